import type { Locale } from "./casing";

export function formatTime(ms: number, locale: Locale, now = Date.now()): string {
  const d = new Date(ms);
  const sameDay = new Date(now).toDateString() === d.toDateString();
  const opts: Intl.DateTimeFormatOptions = sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale === "tr" ? "tr-TR" : "en-GB", opts).format(d);
}

export function formatDateTime(ms: number, locale: Locale): string {
  return new Intl.DateTimeFormat(locale === "tr" ? "tr-TR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(ms));
}

export function formatSize(bytes: number, locale: Locale): string {
  const nf = (n: number) => new Intl.NumberFormat(locale === "tr" ? "tr-TR" : "en-GB", { maximumFractionDigits: 1 }).format(n);
  if (!bytes || bytes < 1024) return `${bytes || 0} B`;
  if (bytes < 1024 * 1024) return `${nf(bytes / 1024)} KB`;
  return `${nf(bytes / 1024 / 1024)} MB`;
}

/** An attachment or link URL that is safe to put in href/src: http(s) or Kanal's own paths. */
export function safeURL(url: string): string | null {
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Whether an attachment may be shown inline: an image Kanal itself holds (the CSP allows only those). */
export function inlineImage(url: string, contentType: string): boolean {
  return contentType.startsWith("image/") && url.startsWith("/api/v1/media/") && !contentType.includes("svg");
}

/** The text of a sanitised HTML body, never rendered as HTML (parsed in an inert document: nothing loads or runs). */
export function htmlToText(html: string): string {
  if (!html) return "";
  try {
    const doc = new DOMParser().parseFromString(html, "text/html");
    return (doc.body?.textContent ?? "").replace(/\n{3,}/g, "\n\n").trim();
  } catch {
    return html;
  }
}
