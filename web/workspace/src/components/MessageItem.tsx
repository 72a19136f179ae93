import type { ReactNode } from "react";
import type { Attachment, Message, MessageStatus } from "../api";
import { useI18n, type MessageKey } from "../i18n";
import { formatDateTime, formatSize, formatTime, htmlToText, inlineImage, safeURL } from "../format";
import { ChannelIcon } from "./common";

// Customer text is always rendered as React text nodes: never as HTML.
const CARD_TYPES = new Set(["location", "template", "unsupported", "contacts", "interactive"]);

export function MessageItem({ m, customerName, memberName }: { m: Message; customerName: string; memberName: Map<string, string> }) {
  const { t, locale } = useI18n();
  const note = m.kind === "note";
  const author =
    m.author_kind === "customer"
      ? customerName
      : m.author_kind === "agent"
        ? (m.author_id && memberName.get(m.author_id)) || t("message.agent")
        : m.author_kind === "bot"
          ? t("message.bot")
          : t("message.system");
  const body = m.text || htmlToText(m.html);
  const ct = m.content_type ?? "text";
  return (
    <article
      className={`msg ${note ? "note" : m.direction === "in" ? "in" : "out"}`}
      data-testid={note ? "note" : "message"}
      data-direction={m.direction}
      data-status={m.status}
    >
      <header className="msg-head">
        <ChannelIcon channel={m.channel} />
        <span className="msg-author">{author}</span>
        {note && <span className="badge note-badge">{t("message.note")}</span>}
        <span className="msg-dir" aria-label={t(`message.dir.${m.direction}` as MessageKey)} title={t(`message.dir.${m.direction}` as MessageKey)}>
          {m.direction === "in" ? "↙" : m.direction === "out" ? "↗" : "•"}
        </span>
        <time dateTime={new Date(m.created_at).toISOString()} title={formatDateTime(m.created_at, locale)}>
          {formatTime(m.created_at, locale)}
        </time>
        {m.direction === "out" && <Ticks status={m.status} reason={m.status_reason} />}
      </header>
      {CARD_TYPES.has(ct) ? <Card m={m} /> : body && <p className="msg-text">{body}</p>}
      {m.attachments.length > 0 && (
        <ul className="attachments">
          {m.attachments.map((a, i) => (
            <AttachmentView key={i} a={a} />
          ))}
        </ul>
      )}
    </article>
  );
}

const TICKS: Record<MessageStatus, string> = {
  received: "",
  queued: "🕓",
  sent: "✓",
  delivered: "✓✓",
  read: "✓✓",
  failed: "!",
};

export function Ticks({ status, reason }: { status: MessageStatus; reason: string }) {
  const { t } = useI18n();
  const label = t(`tick.${status}` as MessageKey);
  const title = status === "failed" && reason ? `${label}: ${reason}` : label;
  return (
    <span className={`ticks tick-${status}`} title={title} aria-label={title} data-testid="ticks" data-status={status}>
      {TICKS[status]}
      <span className="tick-text">{label}</span>
    </span>
  );
}

function AttachmentView({ a }: { a: Attachment }) {
  const { t, locale } = useI18n();
  const url = a.url ? safeURL(a.url) : null;
  const name = a.file_name || t("message.file");
  if (!url) {
    return (
      <li className="attachment pending">
        <span className="file-name">{name}</span> <span className="muted">{a.ref ? t("message.fetching") : t("message.noLink")}</span>
      </li>
    );
  }
  return (
    <li className="attachment">
      {inlineImage(url, a.content_type) && (
        <a href={url} target="_blank" rel="noopener noreferrer">
          <img src={url} alt={name} loading="lazy" />
        </a>
      )}
      <a href={url} target="_blank" rel="noopener noreferrer" className="file-name" download={url.startsWith("/") ? name : undefined}>
        📎 {name}
      </a>{" "}
      <span className="muted">{formatSize(a.size, locale)}</span>
    </li>
  );
}

function parseRaw(raw: string | undefined): Record<string, unknown> | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function findNumber(o: Record<string, unknown> | null, keys: string[], depth = 0): number | null {
  if (!o || depth > 3) return null;
  for (const k of keys) if (typeof o[k] === "number") return o[k] as number;
  for (const v of Object.values(o)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const n = findNumber(v as Record<string, unknown>, keys, depth + 1);
      if (n !== null) return n;
    }
  }
  return null;
}

function Card({ m }: { m: Message }) {
  const { t } = useI18n();
  const ct = m.content_type ?? "unsupported";
  const raw = parseRaw(m.raw);
  let title = t(`content.${ct}` as MessageKey);
  let detail: ReactNode = null;
  if (ct === "template" && raw) {
    const params = Array.isArray(raw.params) ? (raw.params as unknown[]).map(String) : [];
    title = t("content.templateNamed", { name: String(raw.name ?? "") });
    detail = (
      <>
        {raw.language ? <span className="muted">{String(raw.language)}</span> : null}
        {params.length > 0 && (
          <ol className="params">
            {params.map((p, i) => (
              <li key={i}>{p}</li>
            ))}
          </ol>
        )}
      </>
    );
  } else if (ct === "location") {
    const lat = findNumber(raw, ["latitude", "lat"]);
    const lon = findNumber(raw, ["longitude", "long", "lng", "lon"]);
    if (lat !== null && lon !== null) {
      detail = (
        <a href={`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`} target="_blank" rel="noopener noreferrer">
          {lat.toFixed(5)}, {lon.toFixed(5)}
        </a>
      );
    }
  }
  return (
    <div className={`card card-${ct}`} data-testid="content-card">
      <strong>{title}</strong>
      {m.text && <p className="msg-text">{m.text}</p>}
      {detail}
      {m.raw && (
        <details>
          <summary>{t("message.raw")}</summary>
          <pre>{m.raw}</pre>
        </details>
      )}
    </div>
  );
}
