import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Conversation, type ConversationPatch, type Me, type Message, type Priority } from "../api";
import { useI18n, type MessageKey } from "../i18n";
import { useLive, usePoll } from "../live";
import { keys } from "../realtime";
import { appendMessage } from "../events";
import { ChannelIcon, ErrorBanner } from "./common";
import { useCustomer, useMembers, useTeams } from "./ConversationList";
import { MessageItem } from "./MessageItem";
import { Composer } from "./Composer";
import { CustomerPanel } from "./CustomerPanel";

const PRIORITIES: Priority[] = ["low", "normal", "high", "urgent"];

export function ConversationView({ me, id, onClose }: { me: Me; id: string; onClose: () => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const poll = usePoll();
  const live = useLive();
  const [showCustomer, setShowCustomer] = useState(false);
  const conv = useQuery({ queryKey: keys.conversation(id), queryFn: () => api.conversation(id), refetchInterval: poll });
  const msgs = useQuery({ queryKey: keys.messages(id), queryFn: () => api.messages(id), refetchInterval: poll });
  const customer = useCustomer(conv.data?.customer_id);
  const members = useMembers();
  const scroller = useRef<HTMLDivElement>(null);

  const count = msgs.data?.length ?? 0;
  useEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count]);

  const onSent = (m: Message) => {
    qc.setQueryData<Message[]>(keys.messages(id), (old) => appendMessage(old, m));
    if (m.kind === "message") void qc.invalidateQueries({ queryKey: ["conversations"] });
  };

  if (conv.isError) {
    return (
      <section className="conversation-pane">
        <ErrorBanner error={conv.error} />
        <button type="button" onClick={onClose}>
          {t("common.back")}
        </button>
      </section>
    );
  }
  if (!conv.data) {
    return (
      <section className="conversation-pane">
        <p className="muted pad">{t("app.loading")}</p>
      </section>
    );
  }
  const c = conv.data;
  const memberName = new Map((members.data ?? []).map((m) => [m.id, m.name || m.email]));
  const typingUsers = Object.keys(live.typing[id] ?? {}).map((u) => memberName.get(u) ?? t("conversation.someone"));
  const customerName = customer.data ? customer.data.name || customer.data.email || customer.data.phone || t("customer.unnamed") : "…";

  return (
    <>
      <section className="conversation-pane" aria-label={t("conversation.label")} data-testid="conversation-view">
        <div className="conv-header">
          <button type="button" className="back small" onClick={onClose} aria-label={t("common.back")}>
            ←
          </button>
          <ChannelIcon channel={c.last_channel} />
          <div className="conv-title">
            <h2 data-testid="conversation-customer">{customerName}</h2>
            <span className="muted">{c.subject || t("conversation.noSubject")}</span>
          </div>
          <button type="button" className="small customer-toggle" onClick={() => setShowCustomer((s) => !s)} aria-expanded={showCustomer}>
            {t("customer.title")}
          </button>
        </div>
        <Actions me={me} c={c} />
        <div className="messages" ref={scroller} data-testid="messages">
          {msgs.isPending && <p className="muted pad">{t("app.loading")}</p>}
          <ErrorBanner error={msgs.error} />
          {(msgs.data ?? []).map((m) => (
            <MessageItem key={m.id} m={m} customerName={customerName} memberName={memberName} />
          ))}
        </div>
        {typingUsers.length > 0 && (
          <p className="typing muted" aria-live="polite">
            {t("conversation.typing", { names: typingUsers.join(", ") })}
          </p>
        )}
        <Composer conversation={c} customer={customer.data} onSent={onSent} />
      </section>
      <CustomerPanel customer={customer.data} conversationId={c.id} open={showCustomer} onClose={() => setShowCustomer(false)} />
    </>
  );
}

function Actions({ me, c }: { me: Me; c: Conversation }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const members = useMembers();
  const teams = useTeams();
  const canAssign = me.permissions.includes("assign_others");
  const [snoozing, setSnoozing] = useState(false);
  const [snoozeAt, setSnoozeAt] = useState(() => defaultSnooze());
  const [labelText, setLabelText] = useState("");

  const patch = useMutation<Conversation, ApiError, ConversationPatch>({
    mutationFn: (body) => api.patchConversation(c.id, body),
    onSuccess: (next) => {
      qc.setQueryData(keys.conversation(c.id), next);
      void qc.invalidateQueries({ queryKey: ["conversations"] });
      void qc.invalidateQueries({ queryKey: keys.customerConversations(next.customer_id) });
    },
  });

  const addLabel = () => {
    const l = labelText.trim();
    if (!l || c.labels.includes(l)) return setLabelText("");
    patch.mutate({ labels: [...c.labels, l] });
    setLabelText("");
  };

  return (
    <div className="actions" data-testid="conversation-actions">
      {c.assignee_id !== me.user.id && (
        <button type="button" className="small" onClick={() => patch.mutate({ assignee_id: me.user.id })} data-testid="assign-me">
          {t("actions.assignMe")}
        </button>
      )}
      <label className="inline">
        <span>{t("actions.assignee")}</span>
        <select
          value={c.assignee_id ?? ""}
          onChange={(e) => patch.mutate({ assignee_id: e.target.value || null })}
          data-testid="assignee-select"
        >
          <option value="">{t("actions.unassigned")}</option>
          {(members.data ?? []).map((m) => (
            <option key={m.id} value={m.id} disabled={!canAssign && m.id !== me.user.id && m.id !== c.assignee_id}>
              {m.name || m.email}
              {m.id === me.user.id ? ` (${t("actions.you")})` : ""}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        <span>{t("actions.team")}</span>
        <select value={c.team_id ?? ""} disabled={!canAssign} onChange={(e) => patch.mutate({ team_id: e.target.value || null })}>
          <option value="">{t("actions.noTeam")}</option>
          {(teams.data ?? []).map((tm) => (
            <option key={tm.id} value={tm.id}>
              {tm.name}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        <span>{t("actions.status")}</span>
        <select
          value={snoozing ? "snoozed" : c.status}
          onChange={(e) => {
            const s = e.target.value as Conversation["status"];
            if (s === "snoozed") return setSnoozing(true);
            setSnoozing(false);
            patch.mutate({ status: s });
          }}
          data-testid="status-select"
        >
          {(["open", "pending", "snoozed", "resolved"] as const).map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
      </label>
      {snoozing && (
        <span className="inline">
          <input type="datetime-local" aria-label={t("actions.snoozeUntil")} value={snoozeAt} onChange={(e) => setSnoozeAt(e.target.value)} />
          <button
            type="button"
            className="small"
            onClick={() => {
              const at = new Date(snoozeAt).getTime();
              if (!Number.isFinite(at)) return;
              patch.mutate({ status: "snoozed", snoozed_until: at }, { onSuccess: () => setSnoozing(false) });
            }}
          >
            {t("actions.snooze")}
          </button>
          <button type="button" className="small link" onClick={() => setSnoozing(false)}>
            {t("common.cancel")}
          </button>
        </span>
      )}
      {c.status === "snoozed" && c.snoozed_until && !snoozing && (
        <span className="muted small-text">{t("actions.snoozedUntil", { at: new Date(c.snoozed_until).toLocaleString() })}</span>
      )}
      <label className="inline">
        <span>{t("actions.priority")}</span>
        <select value={c.priority} onChange={(e) => patch.mutate({ priority: e.target.value as Priority })}>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {t(`priority.${p}` as MessageKey)}
            </option>
          ))}
        </select>
      </label>
      {c.status !== "resolved" && (
        <button type="button" className="small primary" onClick={() => patch.mutate({ status: "resolved" })} data-testid="resolve">
          {t("actions.resolve")}
        </button>
      )}
      <div className="labels">
        {c.labels.map((l) => (
          <span key={l} className="chip">
            {l}
            <button type="button" aria-label={t("actions.removeLabel", { label: l })} onClick={() => patch.mutate({ labels: c.labels.filter((x) => x !== l) })}>
              ×
            </button>
          </span>
        ))}
        <input
          className="label-input"
          placeholder={t("actions.addLabel")}
          aria-label={t("actions.addLabel")}
          value={labelText}
          onChange={(e) => setLabelText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              addLabel();
            }
          }}
        />
      </div>
      {patch.error && <ErrorBanner error={patch.error} onClose={() => patch.reset()} />}
    </div>
  );
}

function defaultSnooze(): string {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(9, 0, 0, 0);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
