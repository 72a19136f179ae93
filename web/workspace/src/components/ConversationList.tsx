import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, type Conversation, type ConversationFilter, type Me, type Member } from "../api";
import { useI18n, type MessageKey } from "../i18n";
import { formatTime } from "../format";
import { keys } from "../realtime";
import { Avatar, ChannelIcon, ErrorBanner } from "./common";

const STATUSES = ["open", "pending", "snoozed", "resolved"] as const;

export function useCustomer(id: string | undefined) {
  return useQuery({ queryKey: keys.customer(id ?? ""), queryFn: () => api.customer(id!), enabled: !!id, staleTime: 300_000 });
}

export function useMembers() {
  return useQuery({ queryKey: keys.users, queryFn: api.users, staleTime: 300_000 });
}

export function useInboxes() {
  return useQuery({ queryKey: keys.inboxes, queryFn: api.inboxes, staleTime: 300_000 });
}

export function useTeams() {
  return useQuery({ queryKey: keys.teams, queryFn: api.teams, staleTime: 300_000 });
}

interface Props {
  me: Me;
  filter: ConversationFilter;
  onFilter: (f: ConversationFilter) => void;
  items: Conversation[];
  loading: boolean;
  error: Error | null;
  hasMore: boolean;
  loadingMore: boolean;
  onMore: () => void;
  selected: string | null;
  unread: (c: Conversation) => boolean;
  onOpen: (id: string) => void;
}

export function ConversationList(p: Props) {
  const { t } = useI18n();
  const inboxes = useInboxes();
  const teams = useTeams();
  const members = useMembers();
  const [label, setLabel] = useState(p.filter.label ?? "");
  const channels = [...new Set((inboxes.data ?? []).map((i) => i.type))].sort();
  const set = (patch: Partial<ConversationFilter>) => p.onFilter({ ...p.filter, ...patch });
  const byId = new Map((members.data ?? []).map((m) => [m.id, m]));

  return (
    <section className="list-pane" aria-label={t("inbox.conversations")}>
      <div className="views" role="tablist">
        {(["mine", "unassigned", "all"] as const).map((v) => (
          <button
            key={v}
            role="tab"
            aria-selected={p.filter.view === v}
            className={p.filter.view === v ? "active" : ""}
            onClick={() => set({ view: v })}
            data-testid={`view-${v}`}
          >
            {t(`view.${v}`)}
          </button>
        ))}
      </div>
      <div className="filters">
        <select aria-label={t("filter.status")} value={p.filter.status ?? ""} onChange={(e) => set({ status: e.target.value || undefined })} data-testid="filter-status">
          <option value="">{t("filter.anyStatus")}</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
        <select aria-label={t("filter.channel")} value={p.filter.channel ?? ""} onChange={(e) => set({ channel: e.target.value || undefined })}>
          <option value="">{t("filter.anyChannel")}</option>
          {channels.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
        <select aria-label={t("filter.inbox")} value={p.filter.inbox ?? ""} onChange={(e) => set({ inbox: e.target.value || undefined })}>
          <option value="">{t("filter.anyInbox")}</option>
          {(inboxes.data ?? []).map((i) => (
            <option key={i.id} value={i.id}>
              {i.name}
            </option>
          ))}
        </select>
        <select aria-label={t("filter.team")} value={p.filter.team ?? ""} onChange={(e) => set({ team: e.target.value || undefined })}>
          <option value="">{t("filter.anyTeam")}</option>
          {(teams.data ?? []).map((tm) => (
            <option key={tm.id} value={tm.id}>
              {tm.name}
            </option>
          ))}
        </select>
        <input
          type="search"
          aria-label={t("filter.label")}
          placeholder={t("filter.label")}
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          onBlur={() => set({ label: label.trim() || undefined })}
          onKeyDown={(e) => e.key === "Enter" && set({ label: label.trim() || undefined })}
        />
      </div>
      <ErrorBanner error={p.error} />
      <ul className="conversations" data-testid="conversation-list">
        {p.loading && <li className="muted pad">{t("app.loading")}</li>}
        {!p.loading && p.items.length === 0 && <li className="muted pad">{t("inbox.empty")}</li>}
        {p.items.map((c) => (
          <ConversationItem
            key={c.id}
            c={c}
            assignee={c.assignee_id ? byId.get(c.assignee_id) : undefined}
            mine={c.assignee_id === p.me.user.id}
            selected={c.id === p.selected}
            unread={p.unread(c)}
            onOpen={() => p.onOpen(c.id)}
          />
        ))}
      </ul>
      {p.hasMore && (
        <button type="button" className="load-more" onClick={p.onMore} disabled={p.loadingMore} data-testid="load-more">
          {p.loadingMore ? t("app.loading") : t("inbox.loadMore")}
        </button>
      )}
    </section>
  );
}

function ConversationItem({
  c,
  assignee,
  mine,
  selected,
  unread,
  onOpen,
}: {
  c: Conversation;
  assignee?: Member;
  mine: boolean;
  selected: boolean;
  unread: boolean;
  onOpen: () => void;
}) {
  const { t, locale } = useI18n();
  const cust = useCustomer(c.customer_id);
  const name = cust.data ? cust.data.name || cust.data.email || cust.data.phone || t("customer.unnamed") : "…";
  return (
    <li>
      <button
        type="button"
        className={`conv-item ${selected ? "selected" : ""} ${unread ? "unread" : ""}`}
        onClick={onOpen}
        aria-current={selected ? "true" : undefined}
        data-testid="conversation-item"
        data-id={c.id}
        data-unread={unread ? "true" : "false"}
      >
        <ChannelIcon channel={c.last_channel} />
        <span className="conv-main">
          <span className="conv-top">
            <span className="conv-name">{name}</span>
            <time dateTime={new Date(c.last_activity_at).toISOString()}>{formatTime(c.last_activity_at, locale)}</time>
          </span>
          <span className="conv-sub">
            {unread && <span className="unread-dot" aria-label={t("inbox.unread")} title={t("inbox.unread")} />}
            <span className="conv-subject">{c.subject || t("conversation.noSubject")}</span>
          </span>
          <span className="conv-meta">
            <span className={`badge status-${c.status}`}>{t(`status.${c.status}` as MessageKey)}</span>
            {(c.priority === "high" || c.priority === "urgent") && (
              <span className={`badge prio-${c.priority}`}>{t(`priority.${c.priority}` as MessageKey)}</span>
            )}
            {c.labels.slice(0, 2).map((l) => (
              <span key={l} className="badge label">
                {l}
              </span>
            ))}
            {assignee && (
              <span className="assignee" title={mine ? t("conversation.assignedToYou") : assignee.name}>
                <Avatar name={assignee.name || assignee.email} size={18} />
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}
