import { useState, type ReactNode } from "react";
import { useI18n, LOCALES } from "../i18n";
import { upper, initials } from "../casing";
import type { ApiError } from "../api";

export function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t("lang.label")}>
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          className={l === locale ? "active" : ""}
          aria-pressed={l === locale}
          lang={l}
          title={t(l === "tr" ? "lang.tr" : "lang.en")}
          onClick={() => setLocale(l)}
          data-testid={`lang-${l}`}
        >
          {upper(l, l)}
        </button>
      ))}
    </div>
  );
}

export function Avatar({ name, size = 28 }: { name: string; size?: number }) {
  const { locale } = useI18n();
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return (
    <span className={`avatar hue-${h % 8}`} style={{ width: size, height: size, fontSize: size * 0.4 }} aria-hidden="true">
      {initials(name, locale)}
    </span>
  );
}

/** An upper-cased section heading, cased for the language (İ in Turkish). */
export function Eyebrow({ children }: { children: string }) {
  const { locale } = useI18n();
  return <h3 className="eyebrow">{upper(children, locale)}</h3>;
}

export function ErrorBanner({ error, onClose }: { error: ApiError | Error | null | undefined; onClose?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  const fields = "fields" in error && error.fields ? Object.entries(error.fields) : [];
  return (
    <div className="banner error" role="alert">
      <span>{error.message || t("common.error")}</span>
      {fields.length > 0 && (
        <ul>
          {fields.map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>: {v}
            </li>
          ))}
        </ul>
      )}
      {onClose && (
        <button type="button" className="link" onClick={onClose} aria-label={t("common.close")}>
          ×
        </button>
      )}
    </div>
  );
}

export function CopyButton({ value, label }: { value: string; label?: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      const ta = document.createElement("textarea");
      ta.value = value;
      document.body.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" className="small" onClick={() => void copy()}>
      {done ? t("common.copied") : (label ?? t("common.copy"))}
    </button>
  );
}

export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={title}>
        <div className="modal-head">
          <h2>{title}</h2>
          <button type="button" className="link" onClick={onClose} aria-label={t("common.close")}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

const CHANNEL_STYLE: Record<string, { abbr: string; cls: string }> = {
  api: { abbr: "API", cls: "ch-api" },
  whatsapp: { abbr: "WA", cls: "ch-whatsapp" },
  telegram: { abbr: "TG", cls: "ch-telegram" },
  messenger: { abbr: "FB", cls: "ch-messenger" },
  instagram: { abbr: "IG", cls: "ch-instagram" },
  twilio: { abbr: "SMS", cls: "ch-sms" },
  netgsm: { abbr: "SMS", cls: "ch-sms" },
  sms: { abbr: "SMS", cls: "ch-sms" },
  email: { abbr: "@", cls: "ch-email" },
  webchat: { abbr: "WEB", cls: "ch-web" },
};

export function ChannelIcon({ channel }: { channel: string }) {
  const s = CHANNEL_STYLE[channel] ?? { abbr: channel.slice(0, 3).toUpperCase(), cls: "ch-other" };
  return (
    <span className={`channel-icon ${s.cls}`} title={channel} aria-label={channel} role="img">
      {s.abbr}
    </span>
  );
}
