package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// The fakes number the messages they accept from 1 in each process (Meta's
// m_fake000001, Twilio's SM…01, Netgsm's job ids), but Kanal keeps the ids
// of earlier runs of the demo in its database and finds a delivery report's
// message by id: after a restart, a report about the new "m_fake000001"
// would land on the old message of that id. The simulator's proxy therefore
// makes the ids it hands to Kanal unique per run (runIDs), and translates
// them back where Kanal quotes them to a fake (Netgsm's report query).
type runIDs struct {
	run int64 // the run's start, Unix milliseconds
}

// meta: m_fake000001 → m_fake000001_<run in base 36>.
func (r runIDs) metaOut(id string) string { return id + "_" + strconv.FormatInt(r.run, 36) }

// twilio: SM + 32 hex digits of a small counter → its first 12 digits (all
// zeros) replaced by the run in hex.
func (r runIDs) twilioOut(sid string) string {
	if len(sid) != 34 || !strings.HasPrefix(sid, "SM") || sid[2:14] != "000000000000" {
		return sid
	}
	return "SM" + leftPad(strconv.FormatInt(r.run, 16), 12) + sid[14:]
}

// netgsm: a decimal job id plus run×100000.
func (r runIDs) netgsmOut(id string) string {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return id
	}
	return strconv.FormatInt(n+r.run*100000, 10)
}

func (r runIDs) netgsmIn(id string) string {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < r.run*100000 {
		return id
	}
	return strconv.FormatInt(n-r.run*100000, 10)
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s[len(s)-n:]
	}
	return strings.Repeat("0", n-len(s)) + s
}

// proxy forwards prefix/... to the fake at target (its own loopback
// server). edit, when set, may change the request before it goes and the
// answer before Kanal reads it.
func proxy(target string, edit *proxyEdit) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			if edit != nil && edit.request != nil {
				edit.request(pr.Out)
			}
		},
	}
	if edit != nil && edit.response != nil {
		p.ModifyResponse = edit.response
	}
	return p
}

type proxyEdit struct {
	request  func(*http.Request)
	response func(*http.Response) error
}

// editJSON rewrites a JSON body with fn (which edits the decoded object in
// place); a body that is not a JSON object is left alone.
func editJSON(body io.ReadCloser, fn func(map[string]any)) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(body, 8<<20))
	body.Close()
	if err != nil {
		return b, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return b, false
	}
	fn(m)
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if e.Encode(m) != nil {
		return b, false
	}
	return out.Bytes(), true
}

func setResponseBody(resp *http.Response, b []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
}

// metaEdit makes the Send API's message ids unique per run.
func (r runIDs) metaEdit() *proxyEdit {
	return &proxyEdit{response: func(resp *http.Response) error {
		if resp.Request.Method != http.MethodPost || !strings.HasSuffix(resp.Request.URL.Path, "/messages") || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, _ := editJSON(resp.Body, func(m map[string]any) {
			if id, ok := m["message_id"].(string); ok && id != "" {
				m["message_id"] = r.metaOut(id)
			}
		})
		setResponseBody(resp, b)
		return nil
	}}
}

// twilioEdit makes Messages.json's sids unique per run, and keeps the
// redirect of a media URL (to the file's storage) under the prefix.
func (r runIDs) twilioEdit(prefix string) *proxyEdit {
	return &proxyEdit{response: func(resp *http.Response) error {
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
			resp.Header.Set("Location", prefix+loc)
		}
		if resp.Request.Method != http.MethodPost || !strings.HasSuffix(resp.Request.URL.Path, "/Messages.json") || resp.StatusCode != http.StatusCreated {
			return nil
		}
		b, _ := editJSON(resp.Body, func(m map[string]any) {
			if sid, ok := m["sid"].(string); ok {
				m["sid"] = r.twilioOut(sid)
			}
		})
		setResponseBody(resp, b)
		return nil
	}}
}

// netgsmEdit makes job ids unique per run: in send answers and report
// rows, and back to the fake's own in report queries.
func (r runIDs) netgsmEdit() *proxyEdit {
	return &proxyEdit{
		request: func(req *http.Request) {
			if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/report") || req.Body == nil {
				return
			}
			b, _ := editJSON(req.Body, func(m map[string]any) {
				if ids, ok := m["jobids"].([]any); ok {
					for i, id := range ids {
						if s, ok := id.(string); ok {
							ids[i] = r.netgsmIn(s)
						}
					}
				}
			})
			req.Body = io.NopCloser(bytes.NewReader(b))
			req.ContentLength = int64(len(b))
			req.Header.Set("Content-Length", strconv.Itoa(len(b)))
		},
		response: func(resp *http.Response) error {
			if resp.Request.Method != http.MethodPost {
				return nil
			}
			switch {
			case strings.HasSuffix(resp.Request.URL.Path, "/send"):
				b, _ := editJSON(resp.Body, func(m map[string]any) {
					if id, ok := m["jobid"].(string); ok && id != "" {
						m["jobid"] = r.netgsmOut(id)
					}
				})
				setResponseBody(resp, b)
			case strings.HasSuffix(resp.Request.URL.Path, "/report"):
				b, _ := editJSON(resp.Body, func(m map[string]any) {
					jobs, _ := m["jobs"].([]any)
					for _, j := range jobs {
						if row, ok := j.(map[string]any); ok {
							if id, ok := row["jobid"].(string); ok {
								row["jobid"] = r.netgsmOut(id)
							}
						}
					}
				})
				setResponseBody(resp, b)
			}
			return nil
		},
	}
}
