import { useInfiniteQuery } from "@tanstack/react-query";
import { api, type KanalEvent, type TimelinePage } from "../api";
import { useI18n, type MessageKey, type T } from "../i18n";
import { formatDateTime } from "../format";
import { keys } from "../realtime";
import { navigate, routePath } from "../router";
import { ErrorBanner } from "./common";
import { CustomerDetails } from "./CustomerPanel";
import { useCustomer } from "./ConversationList";

/** A customer's profile and whole timeline (their part of the event log), newest first. */
export function CustomerPage({ customerId }: { customerId: string }) {
  const { t, locale } = useI18n();
  const customer = useCustomer(customerId);
  const tl = useInfiniteQuery({
    queryKey: keys.timeline(customerId),
    queryFn: ({ pageParam }) => api.timeline(customerId, pageParam),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last: TimelinePage) => last.next_before ?? undefined,
  });
  const events = tl.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <main className="page customer-page">
      <section className="card-pane">
        <ErrorBanner error={customer.error} />
        {customer.data && <CustomerDetails customer={customer.data} />}
      </section>
      <section className="card-pane timeline" aria-label={t("customer.timeline")}>
        <h2>{t("customer.timeline")}</h2>
        <ErrorBanner error={tl.error} />
        <ol className="events" data-testid="timeline">
          {events.map((ev) => (
            <li key={ev.seq} className={`event ev-${ev.type.replace(/\./g, "-")}`}>
              <time>{formatDateTime(ev.created_at, locale)}</time>
              <span className="ev-type">{eventLabel(ev, t)}</span>
              <span className="ev-summary">{eventSummary(ev)}</span>
              {ev.conversation_id && (
                <a
                  href={routePath({ name: "inbox", conversationId: ev.conversation_id })}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(routePath({ name: "inbox", conversationId: ev.conversation_id! }));
                  }}
                >
                  {t("timeline.open")}
                </a>
              )}
            </li>
          ))}
          {tl.isSuccess && events.length === 0 && <li className="muted">{t("timeline.empty")}</li>}
        </ol>
        {tl.hasNextPage && (
          <button type="button" onClick={() => void tl.fetchNextPage()} disabled={tl.isFetchingNextPage}>
            {t("timeline.older")}
          </button>
        )}
      </section>
    </main>
  );
}

export function eventLabel(ev: KanalEvent, t: T): string {
  const k = `event.${ev.type}` as MessageKey;
  const s = t(k);
  return s === k ? ev.type : s;
}

/** A one-line, plain-text summary of an event's data. */
export function eventSummary(ev: KanalEvent): string {
  const d = (ev.data ?? {}) as Record<string, unknown>;
  switch (ev.type) {
    case "message.created":
    case "note.created": {
      const text = typeof d.text === "string" ? d.text : "";
      return (d.channel ? `[${d.channel}] ` : "") + (text.length > 140 ? text.slice(0, 140) + "…" : text);
    }
    case "message.status_changed":
      return `${d.from ?? ""} → ${d.status ?? ""}${d.reason ? ` (${d.reason})` : ""}`;
    case "conversation.updated": {
      const ch = (d.changes ?? {}) as Record<string, { from?: unknown; to?: unknown }>;
      return Object.entries(ch)
        .map(([k, v]) => `${k}: ${fmt(v?.from)} → ${fmt(v?.to)}`)
        .join(", ");
    }
    case "conversation.created":
      return [d.channel, d.subject].filter(Boolean).join(" · ");
    case "customer.identity_added":
      return [d.kind, d.value].filter(Boolean).join(": ");
    default:
      return "";
  }
}

function fmt(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.join(", ") || "—";
  return String(v);
}
