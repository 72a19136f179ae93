import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Inbox } from "../api";
import { useI18n } from "../i18n";
import { formatDateTime } from "../format";
import { keys } from "../realtime";
import { ChannelIcon, CopyButton, ErrorBanner } from "../components/common";
import { useInboxes } from "../components/ConversationList";

export function InboxesAdmin() {
  const { t, locale } = useI18n();
  const qc = useQueryClient();
  const inboxes = useInboxes();
  const [created, setCreated] = useState<Inbox | null>(null);
  const [tests, setTests] = useState<Record<string, { ok: boolean; text: string }>>({});
  const del = useMutation<void, ApiError, string>({
    mutationFn: api.deleteInbox,
    onSuccess: () => void qc.invalidateQueries({ queryKey: keys.inboxes }),
  });
  const test = async (ib: Inbox) => {
    setTests((s) => ({ ...s, [ib.id]: { ok: true, text: t("admin.testing") } }));
    try {
      const r = await api.testInbox(ib.id);
      setTests((s) => ({ ...s, [ib.id]: { ok: r.ok, text: r.ok ? t("admin.testOk", { account: r.account ?? "" }) : (r.error ?? "") } }));
    } catch (e) {
      const msg = e instanceof ApiError && e.code === "not_testable" ? t("admin.notTestable") : e instanceof Error ? e.message : String(e);
      setTests((s) => ({ ...s, [ib.id]: { ok: false, text: msg } }));
    }
  };

  return (
    <div data-testid="inboxes-admin">
      <h1>{t("admin.inboxes")}</h1>
      <CreateInbox onCreated={setCreated} />
      {created && (
        <div className="banner success created-inbox" role="status" data-testid="created-inbox">
          <strong>{t("admin.inboxCreated", { name: created.name })}</strong>
          {created.webhook_url && (
            <div className="secret-row">
              <span>{t("admin.webhookUrl")}</span>
              <code data-testid="webhook-url">{created.webhook_url}</code>
              <CopyButton value={created.webhook_url} />
            </div>
          )}
          {created.secrets?.signing_secret && (
            <div className="secret-row">
              <span>{t("admin.signingSecret")}</span>
              <code data-testid="signing-secret">{created.secrets.signing_secret}</code>
              <CopyButton value={created.secrets.signing_secret} />
            </div>
          )}
          <p className="muted">{t("admin.secretOnce")}</p>
          <button type="button" className="small" onClick={() => setCreated(null)}>
            {t("common.close")}
          </button>
        </div>
      )}
      <ErrorBanner error={inboxes.error ?? del.error} />
      <table className="table">
        <thead>
          <tr>
            <th>{t("admin.name")}</th>
            <th>{t("admin.type")}</th>
            <th>{t("admin.webhookUrl")}</th>
            <th>{t("admin.created")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(inboxes.data ?? []).map((ib) => (
            <tr key={ib.id} data-testid="inbox-row">
              <td>{ib.name}</td>
              <td>
                <ChannelIcon channel={ib.type} /> {ib.type}
              </td>
              <td className="url-cell">
                {ib.webhook_url && (
                  <>
                    <code>{ib.webhook_url}</code> <CopyButton value={ib.webhook_url} />
                  </>
                )}
                {ib.secrets?.signing_secret && (
                  <div>
                    <span className="muted">{t("admin.signingSecret")}: </span>
                    <CopyButton value={ib.secrets.signing_secret} label={t("admin.copySecret")} />
                  </div>
                )}
                {ib.setup_error && <div className="field-error">{ib.setup_error}</div>}
              </td>
              <td>{formatDateTime(ib.created_at, locale)}</td>
              <td className="row-actions">
                {ib.type !== "api" && (
                  <button type="button" className="small" onClick={() => void test(ib)}>
                    {t("admin.test")}
                  </button>
                )}
                <button
                  type="button"
                  className="small danger"
                  onClick={() => window.confirm(t("admin.confirmDeleteInbox", { name: ib.name })) && del.mutate(ib.id)}
                >
                  {t("common.delete")}
                </button>
                {tests[ib.id] && <div className={tests[ib.id].ok ? "ok-text" : "field-error"}>{tests[ib.id].text}</div>}
              </td>
            </tr>
          ))}
          {inboxes.isSuccess && inboxes.data.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                {t("admin.noInboxes")}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function CreateInbox({ onCreated }: { onCreated: (ib: Inbox) => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [callback, setCallback] = useState("");
  const create = useMutation<Inbox, ApiError, void>({
    mutationFn: () => api.createInbox({ type: "api", name: name.trim(), config: callback.trim() ? { callback_url: callback.trim() } : undefined }),
    onSuccess: (ib) => {
      onCreated(ib);
      setName("");
      setCallback("");
      void qc.invalidateQueries({ queryKey: keys.inboxes });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  return (
    <form className="inline-form" onSubmit={submit} data-testid="create-inbox">
      <h2>{t("admin.newApiInbox")}</h2>
      <label>
        {t("admin.name")}
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} data-testid="inbox-name" />
      </label>
      <label>
        {t("admin.callbackUrl")}
        <input type="url" value={callback} onChange={(e) => setCallback(e.target.value)} placeholder="https://example.com/kanal/replies" />
      </label>
      <button type="submit" className="primary" disabled={create.isPending}>
        {t("admin.create")}
      </button>
      <ErrorBanner error={create.error} />
    </form>
  );
}
