package email

import (
	"regexp"
	"strings"
)

// Folding a reply: the customer's new words are what an agent reads first;
// the quoted history and the signature are folded away from Text (the
// whole mail stays in HTML). The heuristics know the attribution lines of
// Gmail, Outlook, Apple Mail and Thunderbird in English and Turkish (and a
// few other languages), Outlook's From/Sent/To/Subject blocks,
// "-----Original Message-----" separators, trailing "> " quotes, the "-- "
// signature delimiter and the usual mobile taglines. A forwarded mail is
// never folded: what was forwarded is the content.
var (
	attributionRe = regexp.MustCompile(`(?i)^(on\s.+\swrote|.+\starihinde,?\s.+yazdı|am\s.+\sschrieb\s.+|le\s.+\sa\sécrit|el\s.+\sescribió|il\s.+\sha\sscritto|op\s.+\sschreef\s.+)\s*:\s*$`)
	separatorRe   = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|özgün ileti|orijinal ileti|asıl ileti|original nachricht|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}\s*$`)
	underscoreRe  = regexp.MustCompile(`^\s*_{20,}\s*$`)
	fromLineRe    = regexp.MustCompile(`(?i)^\s*\*?(from|kimden|von|de|gönderen)\s*:\*?\s*\S`)
	headerLineRe  = regexp.MustCompile(`(?i)^\s*\*?(sent|date|gönderildi|gönderilme|gönderim|tarih|gesendet|datum|envoyé|to|kime|alıcı|an|à|cc|subject|konu|betreff|objet)\s*:`)
	forwardRe     = regexp.MustCompile(`(?i)^\s*(-{3,}\s*(forwarded message|iletilen ileti|yönlendirilen ileti|yönlendirilmiş ileti|weitergeleitete nachricht|message transféré)\s*-{3,}|begin forwarded message:|yönlendirilen ileti başlangıcı:|iletilen ileti başlangıcı:)\s*$`)
	forwardSubjRe = regexp.MustCompile(`(?i)^\s*(fwd?|fw|ilt|ilet|iletilen|wg|tr)\s*:`)
	sigDelimRe    = regexp.MustCompile(`^-- $`)
	taglineRe     = regexp.MustCompile(`(?i)^\s*(sent from my (iphone|ipad|android|samsung|galaxy|mobile|blackberry).*|sent from (mail|outlook) for (windows|ios|android).*|get outlook for (ios|android).*|sent from yahoo mail.*|(iphone|ipad)['’]?(umdan|imden|'dan|'den)? gönderildi\.?|android için outlook['’]?u edinin.*|ios için outlook['’]?u edinin.*|samsung galaxy (cihazımdan|akıllı telefonumdan) gönderildi.*|mobil cihazımdan gönderildi.*|yahoo mail ile gönderildi.*)\s*$`)
)

// Fold returns the new part of a mail's text: the text before the quoted
// history, without the signature. folded tells whether anything was cut.
// When cutting would leave nothing (a bottom-posted or interleaved reply),
// the whole text is returned.
func Fold(text string) (reply string, folded bool) {
	return fold(text, "")
}

// FoldSubject is Fold, knowing the subject: a forwarded mail ("Fwd:",
// "İLT:") is kept whole.
func FoldSubject(text, subject string) (reply string, folded bool) {
	return fold(text, subject)
}

func fold(text, subject string) (string, bool) {
	whole := strings.TrimSpace(text)
	if whole == "" || forwardSubjRe.MatchString(subject) {
		return whole, false
	}
	lines := strings.Split(strings.ReplaceAll(whole, "\r\n", "\n"), "\n")
	cut := len(lines)
	for i := 0; i < len(lines); i++ {
		if forwardRe.MatchString(matchable(lines[i])) {
			break // what follows was forwarded: keep it
		}
		if quoteStarts(lines, i) {
			cut = i
			break
		}
	}
	// Trailing "> " lines with no attribution above them.
	if cut == len(lines) {
		end := len(lines)
		for end > 0 && strings.TrimSpace(lines[end-1]) == "" {
			end--
		}
		start := end
		for start > 0 && (strings.HasPrefix(strings.TrimSpace(lines[start-1]), ">") || strings.TrimSpace(lines[start-1]) == "") {
			start--
		}
		if start < end && hasQuote(lines[start:end]) {
			cut = start
		}
	}
	head := lines[:cut]
	// The signature: the "-- " delimiter or a mobile tagline, in the new part.
	for i, l := range head {
		if sigDelimRe.MatchString(l) || (taglineRe.MatchString(l) && i > 0) {
			head = head[:i]
			break
		}
	}
	reply := strings.TrimSpace(strings.Join(head, "\n"))
	if reply == "" {
		return whole, false
	}
	return reply, reply != whole
}

func hasQuote(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), ">") {
			return true
		}
	}
	return false
}

// quoteStarts tells whether the quoted history starts at line i.
func quoteStarts(lines []string, i int) bool {
	l := matchable(lines[i])
	if l == "" {
		return false
	}
	if separatorRe.MatchString(l) {
		return true
	}
	// An attribution, possibly wrapped over up to three lines.
	joined := l
	for j := 0; j < 3 && i+j < len(lines); j++ {
		if j > 0 {
			next := matchable(lines[i+j])
			if next == "" {
				break
			}
			joined += " " + next
		}
		if len(joined) > 600 {
			break
		}
		if strings.HasSuffix(joined, ":") && attributionRe.MatchString(joined) {
			return true
		}
	}
	// Outlook's header block, after a line of underscores or on its own:
	// From: then at least two of Sent/To/Subject within the next lines.
	k := i
	if underscoreRe.MatchString(l) {
		k = i + 1
		for k < len(lines) && strings.TrimSpace(lines[k]) == "" {
			k++
		}
	}
	if k < len(lines) && fromLineRe.MatchString(matchable(lines[k])) {
		n := 0
		for j := k + 1; j < len(lines) && j <= k+6; j++ {
			if headerLineRe.MatchString(matchable(lines[j])) {
				n++
			}
		}
		return n >= 2
	}
	return false
}

// matchable prepares a line for the case-insensitive patterns: Go's (?i)
// does not fold the Turkish dotted capital İ to i.
func matchable(l string) string {
	return strings.ReplaceAll(strings.TrimSpace(l), "İ", "i")
}
