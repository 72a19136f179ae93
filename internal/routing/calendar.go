package routing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hours is a queue's business-hours calendar: a weekly schedule in a time
// zone. Outside it the queue offers nothing; its items keep waiting.
type Hours struct {
	// TZ is an IANA zone name (Europe/Istanbul); empty means UTC.
	TZ string `json:"tz,omitempty"`
	// Weekly maps mon…sun to open spans "HH:MM-HH:MM" (end may be 24:00).
	// A day that is not listed is closed.
	Weekly map[string][]string `json:"weekly"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

type span struct{ from, to int } // minutes of the day, [from, to)

type calendar struct {
	loc  *time.Location
	days [7][]span
}

func compileHours(h *Hours, path string, ps *problems) *calendar {
	if h == nil {
		return nil
	}
	c := &calendar{loc: time.UTC}
	if h.TZ != "" {
		loc, err := time.LoadLocation(h.TZ)
		if err != nil {
			ps.add(join(path, "tz"), "unknown time zone %q", h.TZ)
		} else {
			c.loc = loc
		}
	}
	if len(h.Weekly) == 0 {
		ps.add(join(path, "weekly"), "must list at least one day (mon…sun)")
	}
	keys := make([]string, 0, len(h.Weekly))
	for k := range h.Weekly {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		wd, ok := weekdays[k]
		p := join(join(path, "weekly"), k)
		if !ok {
			ps.add(p, "must be one of mon, tue, wed, thu, fri, sat, sun")
			continue
		}
		for i, s := range h.Weekly[k] {
			sp, err := parseSpan(s)
			if err != nil {
				ps.add(index(p, i), "%v", err)
				continue
			}
			c.days[wd] = append(c.days[wd], sp)
		}
		sort.Slice(c.days[wd], func(i, j int) bool { return c.days[wd][i].from < c.days[wd][j].from })
	}
	return c
}

func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("must be HH:MM-HH:MM, got %q", s)
	}
	from, err1 := parseClock(strings.TrimSpace(a))
	to, err2 := parseClock(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return span{}, fmt.Errorf("must be HH:MM-HH:MM, got %q", s)
	}
	if to <= from {
		return span{}, fmt.Errorf("must end after it starts (split spans that cross midnight), got %q", s)
	}
	return span{from, to}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("bad clock")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad clock")
	}
	return hh*60 + mm, nil
}

// open tells whether the calendar is open at t (Unix ms).
func (c *calendar) open(t int64) bool {
	if c == nil {
		return true
	}
	lt := time.UnixMilli(t).In(c.loc)
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range c.days[lt.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// nextChange returns the first time after t at which open changes, or
// false when it never does.
func (c *calendar) nextChange(t int64) (int64, bool) {
	if c == nil {
		return 0, false
	}
	now := c.open(t)
	lt := time.UnixMilli(t).In(c.loc)
	y, mo, d := lt.Date()
	var bounds []int64
	for off := 0; off <= 8; off++ {
		day := time.Date(y, mo, d+off, 0, 0, 0, 0, c.loc)
		for _, sp := range c.days[day.Weekday()] {
			for _, m := range []int{sp.from, sp.to} {
				b := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, c.loc).UnixMilli()
				if b > t {
					bounds = append(bounds, b)
				}
			}
		}
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	for _, b := range bounds {
		if c.open(b) != now {
			return b, true
		}
	}
	return 0, false
}
