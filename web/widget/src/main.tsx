// The chat inside the widget's iframe (Preact). Visitor text and file names
// are rendered as text nodes only, never as HTML.

import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Api, ApiError, Live, type Config, type Frame, type Identity, type Msg, type Session } from "./api";
import { pickLang, strings, type Lang } from "./i18n";
import "./styles.css";

const key = decodeURIComponent(location.pathname.split("/")[2] || "");
const params = new URLSearchParams(location.search);
const embedded = window.parent !== window;
const storeKey = `kanal-widget:${key}`;

function loadToken(): string {
  try {
    return localStorage.getItem(storeKey) || "";
  } catch {
    return "";
  }
}

function saveToken(t: string): void {
  try {
    if (t) localStorage.setItem(storeKey, t);
    else localStorage.removeItem(storeKey);
  } catch {
    /* storage blocked: the chat lasts as long as the page */
  }
}

function toParent(msg: Record<string, unknown>): void {
  if (embedded) window.parent.postMessage({ kanal: 1, ...msg }, "*");
}

function uuid(): string {
  return crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
}

/** Merges messages by id (a server copy replaces the local one with its client_id), oldest first. */
function merge(list: Msg[], add: Msg[]): Msg[] {
  const out = list.slice();
  for (const m of add) {
    const i = out.findIndex((x) => x.id === m.id || (!!m.client_id && x.client_id === m.client_id));
    if (i >= 0) out[i] = m;
    else out.push(m);
  }
  return out.sort((a, b) => (a.local ? 1 : 0) - (b.local ? 1 : 0) || a.created_at - b.created_at);
}

function typeAllowed(types: string[], t: string): boolean {
  return types.some((x) => x === t || (x.endsWith("/*") && t.startsWith(x.slice(0, -1))));
}

function describeTypes(types: string[], imagesWord: string): string {
  const out: string[] = [];
  if (types.some((t) => t.startsWith("image/"))) out.push(imagesWord);
  for (const t of types) if (!t.startsWith("image/")) out.push(t === "application/pdf" ? "PDF" : t);
  return out.join(", ");
}

function Clip() {
  return (
    <svg class="kw-clip" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
      <path
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        stroke-linecap="round"
        d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"
      />
    </svg>
  );
}

function size(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

function App() {
  const api = useMemo(() => new Api(key), []);
  const [lang, setLang] = useState<Lang>(pickLang(params.get("lang"), navigator.language));
  const t = strings(lang);
  const [cfg, setCfg] = useState<Config | null>(null);
  const [fatal, setFatal] = useState(false);
  const [session, setSession] = useState<Session | null>(null);
  const [msgs, setMsgs] = useState<Msg[]>([]);
  const [older, setOlder] = useState("");
  const [open, setOpen] = useState(!embedded);
  const [online, setOnline] = useState(false);
  const [agentTyping, setAgentTyping] = useState(false);
  const [seenUpTo, setSeenUpTo] = useState(0);
  const [readUpTo, setReadUpTo] = useState(0);
  const [alert, setAlert] = useState("");
  const [notice, setNotice] = useState("");
  const [text, setText] = useState("");
  const [contactDone, setContactDone] = useState(false);
  const live = useRef<Live | null>(null);
  const identity = useRef<Identity | undefined>(undefined);
  const msgsRef = useRef<Msg[]>([]);
  msgsRef.current = msgs;
  const openRef = useRef(open);
  openRef.current = open;
  const textArea = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const typingSent = useRef(0);
  const typingTimer = useRef(0);
  const agentTypingTimer = useRef(0);

  // Start: config, then (inside the iframe) wait for the loader's init.
  useEffect(() => {
    let started = false;
    const start = (id?: Identity) => {
      if (started) return;
      started = true;
      identity.current = id;
      void begin(id);
    };
    api
      .config()
      .then((c) => {
        setCfg(c);
        setOnline(c.online);
        document.documentElement.style.setProperty("--kw-color", c.color);
        toParent({ type: "ready", color: c.color });
        if (!embedded) start();
        else window.setTimeout(() => start(identity.current), 3000);
      })
      .catch(() => setFatal(true));
    const onMsg = (e: MessageEvent) => {
      if (e.source !== window.parent || !e.data || e.data.kanal !== 1) return;
      const d = e.data;
      switch (d.type) {
        case "init":
          if (d.lang === "tr" || d.lang === "en") setLang(d.lang);
          setOpen(!!d.open);
          start(d.identity || undefined);
          break;
        case "open":
          setOpen(true);
          break;
        case "closed":
          setOpen(false);
          break;
        case "identify":
          identity.current = d.identity || undefined;
          if (started) void begin(identity.current);
          else start(identity.current);
          break;
        case "reset":
          identity.current = undefined;
          saveToken("");
          api.token = "";
          if (started) void begin(undefined);
          break;
      }
    };
    window.addEventListener("message", onMsg);
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && embedded) toParent({ type: "close" });
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("message", onMsg);
      window.removeEventListener("keydown", onKey);
      live.current?.stop();
    };
  }, []);

  async function begin(id?: Identity) {
    api.token = loadToken();
    let s: Session;
    try {
      s = await api.session(id);
    } catch {
      setFatal(true);
      return;
    }
    const changed = s.token !== api.token || s.visitor.id !== session?.visitor.id;
    api.token = s.token;
    saveToken(s.token);
    setSession(s);
    if (!changed && live.current) return;
    live.current?.stop();
    setMsgs([]);
    setSeenUpTo(0);
    const l = new Live(api, onFrame, () => undefined);
    live.current = l;
    l.start();
  }

  async function loadHistory(before = "") {
    try {
      const h = await api.history(before);
      setMsgs((old) => merge(old, h.items));
      setOlder(h.next_before);
    } catch {
      /* the socket's next hello retries */
    }
  }

  function onFrame(f: Frame, first: boolean) {
    switch (f.type) {
      case "hello":
        setOnline(f.online);
        if (first) void loadHistory();
        break;
      case "message":
        setMsgs((old) => merge(old, [f.message]));
        if (f.message.author !== "visitor") {
          setAgentTyping(false);
          if (!openRef.current || document.hidden) live.current?.send({ type: "delivered", message_id: f.message.id });
        }
        break;
      case "seen": {
        const m = msgsRef.current.find((x) => x.id === f.message_id);
        setSeenUpTo((old) => Math.max(old, m ? m.created_at : f.read_at));
        break;
      }
      case "typing":
        setAgentTyping(f.typing);
        clearTimeout(agentTypingTimer.current);
        if (f.typing) agentTypingTimer.current = window.setTimeout(() => setAgentTyping(false), 6000);
        break;
      case "availability":
        setOnline(f.online);
        break;
    }
  }

  // Unread: agent messages not read yet. Reading happens while the chat is open and visible.
  const unread = msgs.filter((m) => m.author !== "visitor" && !m.local && m.status !== "read" && m.created_at > readUpTo);
  const [vis, setVis] = useState(0);
  useEffect(() => {
    toParent({ type: "unread", count: open ? 0 : unread.length });
    if (open && !document.hidden && unread.length > 0) {
      const last = unread[unread.length - 1];
      live.current?.send({ type: "read", message_id: last.id });
      setReadUpTo(last.created_at);
    }
  }, [open, unread.length, msgs.length, vis]);
  useEffect(() => {
    const v = () => setVis((x) => x + 1); // read what arrived while the page was hidden
    document.addEventListener("visibilitychange", v);
    return () => document.removeEventListener("visibilitychange", v);
  }, []);

  // Focus the composer (or the first form field) when the chat opens.
  useEffect(() => {
    if (open) window.setTimeout(() => (document.querySelector("[data-autofocus]") as HTMLElement | null)?.focus(), 30);
  }, [open, !!session]);

  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [msgs.length, agentTyping]);

  function typing(on: boolean) {
    const now = Date.now();
    clearTimeout(typingTimer.current);
    if (on) {
      if (now - typingSent.current > 3000) {
        typingSent.current = now;
        live.current?.send({ type: "typing", typing: true });
      }
      typingTimer.current = window.setTimeout(() => typing(false), 5000);
    } else if (typingSent.current) {
      typingSent.current = 0;
      live.current?.send({ type: "typing", typing: false });
    }
  }

  function errorText(e: unknown): string {
    if (e instanceof ApiError && cfg) {
      if (e.code === "file_too_large") return t.tooLarge(cfg.max_file_mb);
      if (e.code === "file_type_not_allowed") return t.badType(describeTypes(cfg.file_types, t.images));
      return e.message;
    }
    return t.failed;
  }

  /** Sends until the server acknowledges: 429 waits Retry-After, network errors back off; other refusals fail. */
  async function deliver(m: Msg, run: () => Promise<{ message: Msg }>, attempt = 0): Promise<void> {
    try {
      const r = await run();
      setMsgs((old) => merge(old, [r.message]));
      setNotice("");
    } catch (e) {
      const err = e as ApiError;
      const retry = err.status === 429 || err.status === 0 || err.status >= 500;
      if (retry && attempt < 8) {
        const secs = err.status === 429 ? Math.max(1, err.retryAfter) : Math.min(30, 2 ** attempt);
        if (err.status === 429) setNotice(t.slowDown(secs));
        setMsgs((old) => merge(old, [{ ...m, local: "retrying" }]));
        window.setTimeout(() => void deliver(m, run, attempt + 1), secs * 1000);
        return;
      }
      setMsgs((old) => merge(old, [{ ...m, local: "failed", error: errorText(e) }]));
      if (m.attachments.length > 0) setAlert(errorText(e));
    }
  }

  function sendText(e?: Event) {
    e?.preventDefault();
    const body = text.trim();
    if (!body || !session) return;
    const cid = uuid();
    const m: Msg = { id: "local-" + cid, client_id: cid, author: "visitor", text: body, attachments: [], created_at: Date.now(), status: "", local: "sending" };
    setText("");
    typing(false);
    setMsgs((old) => merge(old, [m]));
    void deliver(m, () => api.send(body, cid));
  }

  function pickFile(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files && input.files[0];
    input.value = "";
    if (!file || !cfg || !session) return;
    setAlert("");
    if (file.size > cfg.max_file_mb * 1024 * 1024) return setAlert(t.tooLarge(cfg.max_file_mb));
    if (file.type && !typeAllowed(cfg.file_types, file.type)) return setAlert(t.badType(describeTypes(cfg.file_types, t.images)));
    const cid = uuid();
    const m: Msg = {
      id: "local-" + cid,
      client_id: cid,
      author: "visitor",
      text: "",
      attachments: [{ url: "", file_name: file.name, content_type: file.type, size: file.size }],
      created_at: Date.now(),
      status: "",
      local: "sending",
    };
    setMsgs((old) => merge(old, [m]));
    void deliver(m, () => api.attach(file, cid));
  }

  async function saveContact(name: string, email: string): Promise<string> {
    try {
      const r = await api.contact(name, email);
      setSession((s) => (s ? { ...s, visitor: r.visitor } : s));
      setContactDone(true);
      return "";
    } catch (e) {
      return e instanceof ApiError && e.code === "invalid_input" ? t.badEmail : t.failed;
    }
  }

  if (fatal) {
    return (
      <div class="kw" role="alert">
        <p class="kw-pad">{t.unavailable}</p>
      </div>
    );
  }
  const greeting = (cfg && (cfg.greeting[lang] || cfg.greeting.tr || cfg.greeting.en)) || t.greeting;
  const offlineText = (cfg && (cfg.offline_message[lang] || cfg.offline_message.tr || cfg.offline_message.en)) || t.offline;
  const v = session?.visitor;
  const needPrechat = !!cfg && cfg.pre_chat === "name_email" && !!session && !session.identified && !(v?.name && v?.email);
  const lastSeen = [...msgs].reverse().find((m) => m.author === "visitor" && !m.local && m.created_at <= seenUpTo);
  const hintId = "kw-hint";

  return (
    <div class="kw" role="dialog" aria-labelledby="kw-title">
      <header class="kw-head">
        <div>
          <h1 id="kw-title">{cfg?.name || t.title}</h1>
          <p class="kw-status" data-testid="widget-status">
            <span class={`kw-dot ${online ? "on" : ""}`} aria-hidden="true" />
            {online ? t.online : offlineText}
          </p>
        </div>
        {embedded && (
          <button type="button" class="kw-close" aria-label={t.close} onClick={() => toParent({ type: "close" })}>
            ×
          </button>
        )}
      </header>
      {!session ? (
        <p class="kw-pad kw-muted" role="status">
          {t.connecting}
        </p>
      ) : needPrechat ? (
        <ContactForm t={t} prechat initial={v} onSave={saveContact} />
      ) : (
        <>
          {!online && !v?.email && !contactDone && <ContactForm t={t} initial={v} onSave={saveContact} />}
          {!online && contactDone && (
            <p class="kw-note" role="status">
              {t.saved}
            </p>
          )}
          <div class="kw-list" ref={list} role="log" aria-live="polite" aria-label={t.messages} data-testid="widget-messages">
            {older && (
              <button type="button" class="kw-link" onClick={() => void loadHistory(older)}>
                {t.loadOlder}
              </button>
            )}
            <div class="kw-msg agent">
              <span class="kw-sr">{t.agent}: </span>
              <p>{greeting}</p>
            </div>
            {msgs.map((m) => (
              <Bubble key={m.client_id || m.id} m={m} t={t} api={api} seen={m === lastSeen} lang={lang} onRetry={() => {
                if (m.attachments.length === 0) void deliver({ ...m, local: "sending" }, () => api.send(m.text, m.client_id!));
              }} />
            ))}
          </div>
          <p class="kw-typing" role="status" data-testid="widget-typing">
            {agentTyping ? t.typing : ""}
          </p>
          {notice && (
            <p class="kw-note" role="status">
              {notice}
            </p>
          )}
          {alert && (
            <p class="kw-alert" role="alert" data-testid="widget-alert">
              {alert}
            </p>
          )}
          <form class="kw-compose" onSubmit={sendText}>
            <label for="kw-text" class="kw-sr">
              {t.message}
            </label>
            <textarea
              id="kw-text"
              data-autofocus
              rows={1}
              value={text}
              maxLength={cfg?.max_text_bytes ? Math.floor(cfg.max_text_bytes / 2) : 5000}
              placeholder={t.placeholder}
              onInput={(e) => {
                const val = (e.currentTarget as HTMLTextAreaElement).value;
                setText(val);
                typing(val.length > 0);
              }}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey && !e.isComposing) sendText(e);
              }}
              onBlur={() => typing(false)}
              ref={textArea}
            />
            <input ref={fileInput} type="file" class="kw-sr" tabIndex={-1} aria-hidden="true" accept={cfg?.file_types.join(",")} onChange={pickFile} data-testid="widget-file" />
            <button type="button" class="kw-icon" aria-label={t.attach} aria-describedby={hintId} title={t.attach} onClick={() => fileInput.current?.click()}>
              <Clip />
            </button>
            <button type="submit" class="kw-send" disabled={!text.trim()}>
              {t.send}
            </button>
          </form>
          {cfg && (
            <p class="kw-hint" id={hintId}>
              {t.attachHint(cfg.max_file_mb, describeTypes(cfg.file_types, t.images))}
            </p>
          )}
        </>
      )}
    </div>
  );
}

function Bubble({ m, t, api, seen, lang, onRetry }: { m: Msg; t: ReturnType<typeof strings>; api: Api; seen: boolean; lang: Lang; onRetry: () => void }) {
  const mine = m.author === "visitor";
  const time = new Date(m.created_at).toLocaleTimeString(lang === "tr" ? "tr-TR" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  return (
    <div class={`kw-msg ${mine ? "mine" : "agent"}`} data-testid="widget-message" data-author={m.author}>
      <span class="kw-sr">{mine ? t.you : t.agent}: </span>
      {m.text && <p>{m.text}</p>}
      {m.attachments.map((a, i) => (
        <FileView key={i} a={a} api={api} t={t} />
      ))}
      <span class="kw-meta">
        <time dateTime={new Date(m.created_at).toISOString()}>{time}</time>
        {m.local === "sending" && <span> · {t.sending}</span>}
        {m.local === "retrying" && <span> · {t.retrying}</span>}
        {m.local === "failed" && (
          <span role="alert">
            {" "}
            · {m.error || t.failed}{" "}
            {m.attachments.length === 0 && (
              <button type="button" class="kw-link" onClick={onRetry}>
                {t.retry}
              </button>
            )}
          </span>
        )}
        {seen && <span data-testid="widget-seen"> · {t.seen}</span>}
      </span>
    </div>
  );
}

const blobs = new Map<string, Promise<string>>();

function FileView({ a, api, t }: { a: Msg["attachments"][number]; api: Api; t: ReturnType<typeof strings> }) {
  const own = a.url.startsWith("/widget/");
  const [url, setUrl] = useState(own ? "" : a.url);
  useEffect(() => {
    if (!own) return;
    let p = blobs.get(a.url);
    if (!p) {
      p = api.blob(a.url);
      blobs.set(a.url, p);
    }
    p.then(setUrl).catch(() => blobs.delete(a.url));
  }, [a.url]);
  const name = a.file_name || t.file;
  const image = /^image\/(png|jpeg|gif|webp)$/.test(a.content_type);
  if (!url) {
    return (
      <p class="kw-file">
        <Clip /> {name} <span class="kw-muted">({size(a.size)})</span>
      </p>
    );
  }
  return (
    <p class="kw-file">
      {image && <img src={url} alt={name} />}
      <a href={url} download={own ? name : undefined} target={own ? undefined : "_blank"} rel="noopener noreferrer">
        <Clip /> {name}
      </a>{" "}
      <span class="kw-muted">({size(a.size)})</span>
    </p>
  );
}

function ContactForm({
  t,
  prechat,
  initial,
  onSave,
}: {
  t: ReturnType<typeof strings>;
  prechat?: boolean;
  initial?: { name: string; email: string };
  onSave: (name: string, email: string) => Promise<string>;
}) {
  const [name, setName] = useState(initial?.name || "");
  const [email, setEmail] = useState(initial?.email || "");
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) return setErr(t.badEmail);
    setBusy(true);
    setErr(await onSave(name.trim(), email.trim()));
    setBusy(false);
  };
  return (
    <form class={prechat ? "kw-pre" : "kw-offline"} onSubmit={submit} data-testid={prechat ? "widget-prechat" : "widget-offline"} noValidate>
      <p>{prechat ? t.prechatIntro : t.offlineAsk}</p>
      {prechat && (
        <>
          <label for="kw-name">{t.name}</label>
          <input id="kw-name" data-autofocus autoComplete="name" required value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </>
      )}
      <label for="kw-email">{t.email}</label>
      <input
        id="kw-email"
        type="email"
        autoComplete="email"
        required
        value={email}
        aria-invalid={err ? "true" : undefined}
        aria-describedby={err ? "kw-email-err" : undefined}
        onInput={(e) => setEmail((e.currentTarget as HTMLInputElement).value)}
      />
      {err && (
        <p id="kw-email-err" class="kw-alert" role="alert">
          {err}
        </p>
      )}
      <button type="submit" class="kw-send" disabled={busy}>
        {prechat ? t.start : t.save}
      </button>
    </form>
  );
}

render(<App />, document.getElementById("app")!);
