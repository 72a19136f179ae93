package email

import (
	"html"
	"io"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// charsetReader decodes a named charset to UTF-8 (WHATWG labels:
// iso-8859-9 reads as windows-1254, its superset).
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	return charset.NewReaderLabel(strings.ToLower(strings.TrimSpace(label)), r)
}

// htmlText turns HTML into readable plain text: block elements and <br>
// break lines, list items get a dash, links keep their address when it
// differs from their text, scripts and styles are dropped.
func htmlText(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	var href []string
	nl := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return strings.TrimSpace(b.String())
		case xhtml.TextToken:
			if skip == 0 {
				t := strings.Join(strings.Fields(string(z.Text())), " ")
				if t != "" {
					if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") &&
						(z.Text()[0] == ' ' || z.Text()[0] == '\n' || z.Text()[0] == '\t') {
						b.WriteByte(' ')
					}
					b.WriteString(t)
					if last := z.Text()[len(z.Text())-1]; last == ' ' || last == '\n' || last == '\t' {
						b.WriteByte(' ')
					}
				}
			}
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			switch tag {
			case "script", "style", "head", "title":
				if tt == xhtml.StartTagToken {
					skip++
				} else if tt == xhtml.EndTagToken && skip > 0 {
					skip--
				}
			case "br":
				b.WriteByte('\n')
			case "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr":
				nl()
				if tag == "p" && tt == xhtml.EndTagToken {
					b.WriteByte('\n')
				}
			case "li":
				nl()
				if tt == xhtml.StartTagToken {
					b.WriteString("- ")
				}
			case "td", "th":
				if tt == xhtml.StartTagToken && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
					b.WriteByte(' ')
				}
			case "a":
				if tt == xhtml.StartTagToken {
					u := ""
					for hasAttr {
						var k, v []byte
						k, v, hasAttr = z.TagAttr()
						if string(k) == "href" {
							u = string(v)
						}
					}
					href = append(href, u)
					href = append(href, b.String())
				} else if tt == xhtml.EndTagToken && len(href) >= 2 {
					u, before := href[len(href)-2], href[len(href)-1]
					href = href[:len(href)-2]
					text := strings.TrimSpace(strings.TrimPrefix(b.String(), before))
					if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && text != u && !strings.Contains(u, text) {
						b.WriteString(" (" + u + ")")
					}
				}
			}
		}
		if b.Len() > 8<<20 {
			return strings.TrimSpace(b.String())
		}
	}
}

// textHTML turns plain text into simple HTML (escaped, line breaks kept).
func textHTML(s string) string {
	return "<p>" + strings.ReplaceAll(html.EscapeString(strings.ReplaceAll(s, "\r\n", "\n")), "\n", "<br>\n") + "</p>"
}
