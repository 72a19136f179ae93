package routing

// slotted values know their position in each heap they belong to; slot
// names which heap.
type slotted interface {
	setPos(slot, pos int32)
}

type ent[T slotted] struct {
	v    T
	slot int32
}

// iheap is an indexed binary heap: removal and re-keying of any element in
// O(log n), and a best-first walk that visits elements in order without
// changing the heap.
type iheap[T slotted] struct {
	e    []ent[T]
	less func(a, b T) bool
}

func (h *iheap[T]) len() int { return len(h.e) }

func (h *iheap[T]) top() (T, bool) {
	if len(h.e) == 0 {
		var zero T
		return zero, false
	}
	return h.e[0].v, true
}

func (h *iheap[T]) swap(i, j int) {
	h.e[i], h.e[j] = h.e[j], h.e[i]
	h.e[i].v.setPos(h.e[i].slot, int32(i))
	h.e[j].v.setPos(h.e[j].slot, int32(j))
}

func (h *iheap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.e[i].v, h.e[p].v) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *iheap[T]) down(i int) bool {
	start := i
	n := len(h.e)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(h.e[r].v, h.e[l].v) {
			m = r
		}
		if !h.less(h.e[m].v, h.e[i].v) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

func (h *iheap[T]) push(v T, slot int32) {
	h.e = append(h.e, ent[T]{v: v, slot: slot})
	i := len(h.e) - 1
	v.setPos(slot, int32(i))
	h.up(i)
}

func (h *iheap[T]) remove(i int) {
	n := len(h.e) - 1
	v, slot := h.e[i].v, h.e[i].slot
	if i != n {
		h.swap(i, n)
	}
	var zero ent[T]
	h.e[n] = zero
	h.e = h.e[:n]
	if i != n && !h.down(i) {
		h.up(i)
	}
	v.setPos(slot, -1)
}

func (h *iheap[T]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

// walk calls fn on the elements in heap order (best first) until fn returns
// true or the heap is exhausted. scratch is reused between calls. fn must
// not change the heap.
func (h *iheap[T]) walk(scratch *[]int32, fn func(T) bool) {
	n := len(h.e)
	if n == 0 || fn(h.e[0].v) {
		return
	}
	fr := (*scratch)[:0]
	less := func(a, b int32) bool { return h.less(h.e[a].v, h.e[b].v) }
	push := func(x int32) {
		fr = append(fr, x)
		i := len(fr) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !less(fr[i], fr[p]) {
				break
			}
			fr[i], fr[p] = fr[p], fr[i]
			i = p
		}
	}
	pop := func() int32 {
		x := fr[0]
		last := len(fr) - 1
		fr[0] = fr[last]
		fr = fr[:last]
		i := 0
		for {
			l := 2*i + 1
			if l >= len(fr) {
				break
			}
			m := l
			if r := l + 1; r < len(fr) && less(fr[r], fr[l]) {
				m = r
			}
			if !less(fr[m], fr[i]) {
				break
			}
			fr[i], fr[m] = fr[m], fr[i]
			i = m
		}
		return x
	}
	if 1 < n {
		push(1)
	}
	if 2 < n {
		push(2)
	}
	for len(fr) > 0 {
		i := pop()
		if fn(h.e[i].v) {
			break
		}
		if l := 2*i + 1; int(l) < n {
			push(l)
		}
		if r := 2*i + 2; int(r) < n {
			push(r)
		}
	}
	*scratch = fr
}

// ---- timers ----

type timerKind uint8

const (
	tmFunc timerKind = iota
	tmOffer
	tmLevel
	tmStep
	tmTarget
	tmTTL
	tmWrapUp
	tmInactivity
	tmHours
)

type timer struct {
	at   int64
	seq  uint64
	kind timerKind
	gen  uint32
	it   *item
	o    *offer
	q    *queue
	fn   func()
}

// timerQueue is a binary min-heap by (at, seq): timers at the same instant
// fire in the order they were set, which keeps runs deterministic.
type timerQueue struct {
	t   []timer
	seq uint64
}

func (tq *timerQueue) less(i, j int) bool {
	a, b := &tq.t[i], &tq.t[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (tq *timerQueue) push(t timer) {
	tq.seq++
	t.seq = tq.seq
	tq.t = append(tq.t, t)
	i := len(tq.t) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !tq.less(i, p) {
			break
		}
		tq.t[i], tq.t[p] = tq.t[p], tq.t[i]
		i = p
	}
}

func (tq *timerQueue) pop() timer {
	t := tq.t[0]
	n := len(tq.t) - 1
	tq.t[0] = tq.t[n]
	tq.t[n] = timer{}
	tq.t = tq.t[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && tq.less(r, l) {
			m = r
		}
		if !tq.less(m, i) {
			break
		}
		tq.t[i], tq.t[m] = tq.t[m], tq.t[i]
		i = m
	}
	return t
}
