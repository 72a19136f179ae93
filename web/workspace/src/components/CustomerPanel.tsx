import { useQuery } from "@tanstack/react-query";
import { api, type Customer } from "../api";
import { useI18n, type MessageKey } from "../i18n";
import { formatTime } from "../format";
import { keys } from "../realtime";
import { navigate, routePath } from "../router";
import { ChannelIcon, Eyebrow } from "./common";

export function CustomerPanel({ customer, conversationId, open, onClose }: { customer?: Customer; conversationId?: string; open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <aside className={`customer-panel ${open ? "open" : ""}`} aria-label={t("customer.title")} data-testid="customer-panel">
      <button type="button" className="small close-panel" onClick={onClose} aria-label={t("common.close")}>
        ×
      </button>
      {customer ? <CustomerDetails customer={customer} exclude={conversationId} /> : <p className="muted pad">{t("app.loading")}</p>}
    </aside>
  );
}

export function CustomerDetails({ customer: c, exclude }: { customer: Customer; exclude?: string }) {
  const { t, locale } = useI18n();
  const label = (k: MessageKey, fallback: string) => (t(k) === k ? fallback : t(k));
  const others = useQuery({ queryKey: keys.customerConversations(c.id), queryFn: () => api.customerConversations(c.id) });
  const attrs = Object.entries(c.attributes ?? {});
  const list = (others.data?.items ?? []).filter((x) => x.id !== exclude);
  return (
    <div className="customer-details">
      <h2 data-testid="customer-name">{c.name || t("customer.unnamed")}</h2>
      <dl className="kv">
        <dt>{t("customer.email")}</dt>
        <dd>{c.email || "—"}</dd>
        <dt>{t("customer.phone")}</dt>
        <dd>{c.phone || "—"}</dd>
      </dl>
      {attrs.length > 0 && (
        <>
          <Eyebrow>{t("customer.attributes")}</Eyebrow>
          <dl className="kv">
            {attrs.map(([k, v]) => (
              <div key={k} className="kv-row">
                <dt>{k}</dt>
                <dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
      <Eyebrow>{t("customer.identities")}</Eyebrow>
      <ul className="identities">
        {(c.identities ?? []).map((i) => (
          <li key={i.id}>
            <span className="badge">{label(`identity.${i.kind}` as MessageKey, i.kind)}</span> <span>{i.value}</span>
          </li>
        ))}
        {(c.identities ?? []).length === 0 && <li className="muted">—</li>}
      </ul>
      <Eyebrow>{t("customer.otherConversations")}</Eyebrow>
      <ul className="other-convs">
        {list.map((x) => (
          <li key={x.id}>
            <a
              href={routePath({ name: "inbox", conversationId: x.id })}
              onClick={(e) => {
                e.preventDefault();
                navigate(routePath({ name: "inbox", conversationId: x.id }));
              }}
            >
              <ChannelIcon channel={x.last_channel} /> {x.subject || t("conversation.noSubject")}
            </a>{" "}
            <span className={`badge status-${x.status}`}>{t(`status.${x.status}` as MessageKey)}</span>{" "}
            <span className="muted">{formatTime(x.last_activity_at, locale)}</span>
          </li>
        ))}
        {others.isSuccess && list.length === 0 && <li className="muted">{t("customer.noOthers")}</li>}
      </ul>
      <a
        className="timeline-link"
        href={routePath({ name: "timeline", customerId: c.id })}
        onClick={(e) => {
          e.preventDefault();
          navigate(routePath({ name: "timeline", customerId: c.id }));
        }}
        data-testid="timeline-link"
      >
        {t("customer.timeline")} →
      </a>
    </div>
  );
}
