// Canned replies. There is no API for them yet: each browser keeps a small
// list in localStorage, edited in Settings, and the composer offers them
// when the text starts with "/".

import { fold, type Locale } from "./casing";

export interface Canned {
  shortcut: string;
  text: string;
}

const KEY = "kanal.canned";

export const defaultCanned: Record<Locale, Canned[]> = {
  tr: [
    { shortcut: "merhaba", text: "Merhaba, size nasıl yardımcı olabilirim?" },
    { shortcut: "kargo", text: "Siparişiniz kargoya verildi; takip numarası kısa süre içinde iletilecek." },
    { shortcut: "tesekkur", text: "Bizi tercih ettiğiniz için teşekkür ederiz. İyi günler dileriz!" },
  ],
  en: [
    { shortcut: "hello", text: "Hello, how can I help you?" },
    { shortcut: "shipping", text: "Your order has shipped; the tracking number will follow shortly." },
    { shortcut: "thanks", text: "Thank you for choosing us. Have a nice day!" },
  ],
};

export function loadCanned(locale: Locale): Canned[] {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw) {
      const v = JSON.parse(raw);
      if (Array.isArray(v)) return v.filter((c) => c && typeof c.shortcut === "string" && typeof c.text === "string");
    }
  } catch {
    /* fall through */
  }
  return defaultCanned[locale];
}

export function saveCanned(list: Canned[]) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* ignore */
  }
}

/** The canned replies for composer text "/que…": those whose shortcut or text contains the query. */
export function matchCanned(list: Canned[], composerText: string, locale: Locale): Canned[] | null {
  if (!composerText.startsWith("/") || composerText.includes("\n")) return null;
  const q = fold(composerText.slice(1).trim(), locale);
  return list.filter((c) => !q || fold(c.shortcut, locale).includes(q) || fold(c.text, locale).includes(q));
}
