// Locale-aware casing. Turkish has a dotted and a dotless i (i/İ, ı/I), so
// "istanbul".toUpperCase() is wrong in Turkish: always case through these.

export type Locale = "tr" | "en";

export function upper(s: string, locale: Locale): string {
  return s.toLocaleUpperCase(locale === "tr" ? "tr" : "en");
}

export function lower(s: string, locale: Locale): string {
  return s.toLocaleLowerCase(locale === "tr" ? "tr" : "en");
}

/** Up to two initials of a name, upper-cased for the locale ("ismail ışık" → "İI" in Turkish). */
export function initials(name: string, locale: Locale): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return "?";
  const first = Array.from(parts[0])[0] ?? "";
  const last = parts.length > 1 ? (Array.from(parts[parts.length - 1])[0] ?? "") : "";
  return upper(first + last, locale);
}

/** Folds for matching: lower-cased for the locale, Turkish-aware (İ→i, I→ı in Turkish). */
export function fold(s: string, locale: Locale): string {
  return lower(s, locale).normalize("NFC");
}
