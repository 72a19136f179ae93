import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api, ApiError, type Conversation, type Customer, type Message } from "../api";
import { useI18n } from "../i18n";
import { useLive } from "../live";
import { channelParam, replyChannels } from "../channels";
import { loadCanned, matchCanned, type Canned } from "../canned";
import { ErrorBanner } from "./common";
import { useInboxes } from "./ConversationList";

type Mode = "reply" | "note";

export function Composer({ conversation: c, customer, onSent }: { conversation: Conversation; customer?: Customer; onSent: (m: Message) => void }) {
  const { t, locale } = useI18n();
  const live = useLive();
  const inboxes = useInboxes();
  const [mode, setMode] = useState<Mode>("reply");
  const [text, setText] = useState("");
  const [channel, setChannel] = useState<string>("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [windowClosed, setWindowClosed] = useState(false);
  const [showTemplate, setShowTemplate] = useState(false);
  const [pick, setPick] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);
  const lastTyping = useRef(0);

  const options = useMemo(
    () => replyChannels(c, customer?.identities ?? [], inboxes.data ?? []),
    [c, customer?.identities, inboxes.data],
  );
  const picked = options.find((o) => o.channel === channel) ?? options[0];
  const canned = useMemo<Canned[]>(() => loadCanned(locale), [locale]);
  const matches = mode === "reply" || mode === "note" ? matchCanned(canned, text, locale) : null;

  useEffect(() => {
    const on = (e: Event) => {
      const m = (e as CustomEvent<Mode>).detail;
      setMode(m);
      setTimeout(() => area.current?.focus(), 0);
    };
    window.addEventListener("kanal:compose", on);
    return () => window.removeEventListener("kanal:compose", on);
  }, []);

  const typing = (on: boolean) => {
    const now = Date.now();
    if (on && now - lastTyping.current < 3000) return;
    lastTyping.current = on ? now : 0;
    if (mode === "reply") live.send({ type: "typing", conversation_id: c.id, typing: on });
  };

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    setError(null);
    try {
      const m = mode === "note" ? await api.note(c.id, body) : await api.reply(c.id, { text: body, channel: channelParam(picked) });
      onSent(m);
      setText("");
      setWindowClosed(false);
      typing(false);
    } catch (err) {
      if (err instanceof ApiError && err.code === "reply_window_closed") setWindowClosed(true);
      else setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  const applyCanned = (cn: Canned) => {
    setText(cn.text);
    setPick(0);
    area.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (matches && matches.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setPick((p) => (p + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        applyCanned(matches[Math.min(pick, matches.length - 1)]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setText(text.slice(1));
        return;
      }
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form className={`composer mode-${mode}`} onSubmit={send} data-testid="composer">
      <div className="composer-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === "reply"} className={mode === "reply" ? "active" : ""} onClick={() => setMode("reply")} data-testid="tab-reply">
          {t("composer.reply")}
        </button>
        <button type="button" role="tab" aria-selected={mode === "note"} className={mode === "note" ? "active" : ""} onClick={() => setMode("note")} data-testid="tab-note">
          {t("composer.note")}
        </button>
        {mode === "reply" && (
          <label className="inline channel-pick">
            <span>{t("composer.via")}</span>
            <select value={picked?.channel ?? ""} onChange={(e) => setChannel(e.target.value)} data-testid="channel-picker" disabled={options.length === 0}>
              {options.length === 0 && <option value="">{t("composer.noChannel")}</option>}
              {options.map((o) => (
                <option key={o.channel} value={o.channel}>
                  {o.channel}
                  {o.current ? ` (${t("composer.current")})` : ""}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {windowClosed && (
        <div className="banner warn" role="alert" data-testid="window-closed">
          <span>{t("composer.windowClosed")}</span>
          <button type="button" className="small" onClick={() => setShowTemplate(true)}>
            {t("composer.sendTemplate")}
          </button>
        </div>
      )}
      {showTemplate && (
        <TemplateForm
          onCancel={() => setShowTemplate(false)}
          onSend={async (tpl) => {
            const m = await api.reply(c.id, { template: tpl, channel: channelParam(picked) });
            onSent(m);
            setShowTemplate(false);
            setWindowClosed(false);
          }}
        />
      )}
      <ErrorBanner error={error} onClose={() => setError(null)} />
      {matches && (
        <ul className="canned" role="listbox" aria-label={t("composer.canned")} data-testid="canned-list">
          {matches.length === 0 && <li className="muted">{t("composer.noCanned")}</li>}
          {matches.map((cn, i) => (
            <li key={cn.shortcut} role="option" aria-selected={i === pick}>
              <button type="button" className={i === pick ? "active" : ""} onMouseDown={(e) => e.preventDefault()} onClick={() => applyCanned(cn)}>
                <strong>/{cn.shortcut}</strong> <span>{cn.text}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <textarea
        ref={area}
        value={text}
        rows={3}
        placeholder={mode === "note" ? t("composer.notePlaceholder") : t("composer.replyPlaceholder")}
        aria-label={mode === "note" ? t("composer.note") : t("composer.reply")}
        onChange={(e) => {
          setText(e.target.value);
          setPick(0);
          typing(e.target.value.length > 0);
        }}
        onBlur={() => typing(false)}
        onKeyDown={onKeyDown}
        data-testid="composer-text"
      />
      <div className="composer-foot">
        <span className="muted hint">{t("composer.hint")}</span>
        <button type="submit" className="primary" disabled={busy || !text.trim() || (mode === "reply" && options.length === 0)} data-testid="composer-send">
          {busy ? t("common.wait") : mode === "note" ? t("composer.addNote") : t("composer.send")}
        </button>
      </div>
    </form>
  );
}

function TemplateForm({ onSend, onCancel }: { onSend: (tpl: { name: string; language?: string; params: string[] }) => Promise<void>; onCancel: () => void }) {
  const { t, locale } = useI18n();
  const [name, setName] = useState("");
  const [language, setLanguage] = useState(locale === "tr" ? "tr" : "en_US");
  const [params, setParams] = useState<string[]>([""]);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    if (!name.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await onSend({ name: name.trim(), language: language.trim() || undefined, params: params.filter((p) => p !== "") });
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <fieldset className="template-form" data-testid="template-form">
      <legend>{t("composer.template")}</legend>
      <label>
        {t("composer.templateName")}
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        {t("composer.templateLanguage")}
        <input value={language} onChange={(e) => setLanguage(e.target.value)} />
      </label>
      {params.map((p, i) => (
        <label key={i}>
          {t("composer.templateParam", { n: i + 1 })}
          <input value={p} onChange={(e) => setParams(params.map((x, j) => (j === i ? e.target.value : x)))} />
        </label>
      ))}
      <div className="row">
        <button type="button" className="small" onClick={() => setParams([...params, ""])}>
          {t("composer.addParam")}
        </button>
        <span className="spacer" />
        <button type="button" className="small link" onClick={onCancel}>
          {t("common.cancel")}
        </button>
        <button type="button" className="small primary" disabled={busy || !name.trim()} onClick={() => void submit()}>
          {t("composer.sendTemplate")}
        </button>
      </div>
      <ErrorBanner error={error} />
    </fieldset>
  );
}
