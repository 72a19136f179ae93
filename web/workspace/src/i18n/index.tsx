import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en, type MessageKey } from "./en";
import { tr } from "./tr";
import type { Locale } from "../casing";

export type { MessageKey };
export const dictionaries: Record<Locale, Record<MessageKey, string>> = { tr, en };
export const LOCALES: Locale[] = ["tr", "en"];

const STORAGE_KEY = "kanal.locale";

/** The starting language: the one picked before, else the browser's (Turkish for tr-*, English otherwise). */
export function initialLocale(stored: string | null, languages: readonly string[]): Locale {
  if (stored === "tr" || stored === "en") return stored;
  for (const l of languages) {
    const base = l.toLowerCase().split("-")[0];
    if (base === "tr") return "tr";
    if (base === "en") return "en";
  }
  return "en";
}

/** Fills {name} placeholders. */
export function format(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

export type T = (key: MessageKey, params?: Record<string, string | number>) => string;

interface I18n {
  locale: Locale;
  setLocale: (l: Locale) => void;
  t: T;
}

const Ctx = createContext<I18n | null>(null);

function readStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function I18nProvider({ children, locale: fixed }: { children: ReactNode; locale?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(
    () => fixed ?? initialLocale(readStored(), typeof navigator !== "undefined" ? navigator.languages ?? [navigator.language] : []),
  );
  const setLocale = useCallback((l: Locale) => {
    setLocaleState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      /* private mode */
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(() => {
    const dict = dictionaries[locale];
    return { locale, setLocale, t: (key, params) => format(dict[key] ?? key, params) };
  }, [locale, setLocale]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error("useI18n outside I18nProvider");
  return v;
}
