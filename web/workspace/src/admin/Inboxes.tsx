import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Inbox } from "../api";
import { dictionaries, useI18n, type MessageKey } from "../i18n";
import { formatDateTime } from "../format";
import { keys } from "../realtime";
import { ChannelIcon, CopyButton, ErrorBanner } from "../components/common";
import { useInboxes } from "../components/ConversationList";
import {
  CHANNEL_FIELDS,
  CHANNEL_TYPES,
  fieldError,
  initialValues,
  isShown,
  otherFieldErrors,
  toConfig,
  type FieldSpec,
  type FormValues,
} from "./channelForms";

/** A translation when the dictionary has the key, else the fallback (keys built at run time). */
function useTx() {
  const { locale, t } = useI18n();
  return (key: string, fallback: string) => (key in dictionaries[locale] ? t(key as MessageKey) : fallback);
}

export function InboxesAdmin() {
  const { t, locale } = useI18n();
  const tx = useTx();
  const qc = useQueryClient();
  const inboxes = useInboxes();
  const [created, setCreated] = useState<Inbox | null>(null);
  const del = useMutation<void, ApiError, string>({
    mutationFn: api.deleteInbox,
    onSuccess: () => void qc.invalidateQueries({ queryKey: keys.inboxes }),
  });

  return (
    <div data-testid="inboxes-admin">
      <h1>{t("admin.inboxes")}</h1>
      <CreateInbox onCreated={setCreated} />
      {created && (
        <div className="banner success created-inbox" role="status" data-testid="created-inbox">
          <strong>{t("admin.inboxCreated", { name: created.name })}</strong>
          {created.setup_error && <SetupError error={created.setup_error} />}
          {created.webhook_url && (
            <div className="secret-row">
              <span>{t("admin.webhookUrl")}</span>
              <code data-testid="webhook-url">{created.webhook_url}</code>
              <CopyButton value={created.webhook_url} />
            </div>
          )}
          {Object.entries(created.secrets ?? {}).map(([k, v]) => (
            <div className="secret-row" key={k}>
              <span>{tx(`ch.${k}`, k)}</span>
              <code data-testid={k.replace(/_/g, "-")} className="secret-value">
                {v}
              </code>
              <CopyButton value={v} />
            </div>
          ))}
          {created.secrets && Object.keys(created.secrets).length > 0 && (
            <p className="muted">{t(created.type === "api" ? "admin.secretOnce" : "admin.generatedSecrets")}</p>
          )}
          {created.type === "webchat" && <Embed id={created.id} />}
          <div className="secret-row">
            <TestConnection id={created.id} />
            <button type="button" className="small" onClick={() => setCreated(null)}>
              {t("common.close")}
            </button>
          </div>
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
                <ChannelIcon channel={ib.type} /> {tx(`type.${ib.type}`, ib.type)}
              </td>
              <td className="url-cell">
                {ib.webhook_url && (
                  <>
                    <code data-testid="row-webhook-url">{ib.webhook_url}</code> <CopyButton value={ib.webhook_url} />
                  </>
                )}
                {Object.entries(ib.secrets ?? {}).map(([k, v]) => (
                  <div key={k}>
                    <span className="muted">{tx(`ch.${k}`, k)}: </span>
                    <CopyButton value={v} label={t("admin.copySecret")} />
                  </div>
                ))}
                {ib.setup_error && <SetupError error={ib.setup_error} />}
              </td>
              <td>{formatDateTime(ib.created_at, locale)}</td>
              <td className="row-actions">
                <TestConnection id={ib.id} />
                <button
                  type="button"
                  className="small danger"
                  onClick={() => window.confirm(t("admin.confirmDeleteInbox", { name: ib.name })) && del.mutate(ib.id)}
                >
                  {t("common.delete")}
                </button>
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

function SetupError({ error }: { error: string }) {
  const { t } = useI18n();
  return (
    <div className="banner error" role="alert" data-testid="setup-error">
      {t("admin.setupError", { error })}
    </div>
  );
}

/** "Test connection" (POST /api/v1/inboxes/{id}/test) and its answer. */
function TestConnection({ id }: { id: string }) {
  const { t } = useI18n();
  const [res, setRes] = useState<{ cls: string; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setRes(null);
    try {
      const r = await api.testInbox(id);
      setRes(
        r.ok
          ? { cls: "ok-text", text: t("admin.testOk", { account: r.account ?? "" }) }
          : { cls: "field-error", text: t("admin.testFailed", { error: r.error ?? "" }) },
      );
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_testable") setRes({ cls: "muted", text: t("admin.notTestable") });
      else setRes({ cls: "field-error", text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="test-connection">
      <button type="button" className="small" onClick={() => void run()} disabled={busy}>
        {busy ? t("admin.testing") : t("admin.test")}
      </button>
      {res && (
        <span className={res.cls} role="status" data-testid="test-result">
          {res.text}
        </span>
      )}
    </span>
  );
}

/** The web chat's embed tag (GET /api/v1/inboxes/{id}/widget). */
function Embed({ id }: { id: string }) {
  const { t } = useI18n();
  const q = useQuery({ queryKey: ["widget-embed", id], queryFn: () => api.widgetEmbed(id) });
  if (q.error) return <ErrorBanner error={q.error} />;
  if (!q.data) return null;
  return (
    <div className="embed">
      <span>{t("admin.embed")}</span>
      <span className="muted"> {t("admin.embedHint")}</span>
      <div className="secret-row">
        <code data-testid="embed-code">{q.data.embed}</code>
        <CopyButton value={q.data.embed} />
      </div>
    </div>
  );
}

function CreateInbox({ onCreated }: { onCreated: (ib: Inbox) => void }) {
  const { t } = useI18n();
  const tx = useTx();
  const qc = useQueryClient();
  const [type, setType] = useState("api");
  const [name, setName] = useState("");
  const [values, setValues] = useState<FormValues>(() => initialValues("api"));
  const create = useMutation<Inbox, ApiError, void>({
    mutationFn: () => api.createInbox({ type, name: name.trim(), config: toConfig(type, values) }),
    onSuccess: (ib) => {
      onCreated(ib);
      setName("");
      setValues(initialValues(type));
      void qc.invalidateQueries({ queryKey: keys.inboxes });
    },
  });
  const pick = (ty: string) => {
    setType(ty);
    setValues(initialValues(ty));
    create.reset();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  const fields = create.error?.fields;
  const others = fields ? otherFieldErrors(type, fields) : {};
  const bannerError =
    create.error && (Object.keys(others).length > 0 || !fields || Object.keys(fields).length === 0)
      ? new ApiError(create.error.status, create.error.code, create.error.message, others)
      : null;
  const specs = (CHANNEL_FIELDS[type] ?? []).filter((f) => isShown(f, values));
  const field = (f: FieldSpec) => (
    <Field
      key={f.key}
      spec={f}
      label={tx(`ch.${f.key}`, f.key)}
      value={values[f.key]}
      error={fieldError(fields, f.key)}
      onChange={(v) => setValues((s) => ({ ...s, [f.key]: v }))}
    />
  );
  return (
    <form className="inline-form inbox-form" onSubmit={submit} data-testid="create-inbox" noValidate>
      <h2>{t("admin.newInbox")}</h2>
      <div className="inbox-form-row">
        <label>
          {t("admin.type")}
          <select value={type} onChange={(e) => pick(e.target.value)} data-testid="inbox-type">
            {CHANNEL_TYPES.map((ty) => (
              <option key={ty} value={ty}>
                {tx(`type.${ty}`, ty)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("admin.name")}
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} data-testid="inbox-name" />
          {fields?.name && <span className="field-error">{fields.name}</span>}
        </label>
      </div>
      <div className="inbox-form-fields">{specs.filter((f) => !f.advanced).map(field)}</div>
      {specs.some((f) => f.advanced) && (
        <details className="inbox-form-advanced" open={specs.some((f) => f.advanced && fieldError(fields, f.key))}>
          <summary>{t("admin.advanced")}</summary>
          <div className="inbox-form-fields">{specs.filter((f) => f.advanced).map(field)}</div>
        </details>
      )}
      <div className="inbox-form-row">
        <button type="submit" className="primary" disabled={create.isPending || !name.trim()}>
          {t("admin.create")}
        </button>
        {fields && Object.keys(fields).length > 0 && Object.keys(others).length === 0 && (
          <span className="field-error" role="alert">
            {t("admin.fixFields")}
          </span>
        )}
      </div>
      <ErrorBanner error={bannerError} />
    </form>
  );
}

function Field({
  spec,
  label,
  value,
  error,
  onChange,
}: {
  spec: FieldSpec;
  label: string;
  value: string | boolean | undefined;
  error?: string;
  onChange: (v: string | boolean) => void;
}) {
  const { t } = useI18n();
  const tx = useTx();
  const id = "f-" + spec.key.replace(/\W/g, "-");
  const errId = id + "-err";
  const common = {
    id,
    name: spec.key,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? errId : undefined,
    "data-testid": id,
  };
  const str = typeof value === "string" ? value : "";
  const hint =
    spec.kind === "secret"
      ? spec.key === "verify_token" || spec.key === "secret_token"
        ? t("admin.secretHint") + " " + t("admin.generatedHint")
        : t("admin.secretHint")
      : "";
  if (spec.kind === "check") {
    return (
      <label className={"inbox-check" + (error ? " has-error" : "")}>
        <span>
          <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.target.checked)} /> {label}
        </span>
        {error && (
          <span className="field-error" id={errId}>
            {error}
          </span>
        )}
      </label>
    );
  }
  let input;
  if (spec.kind === "select") {
    input = (
      <select {...common} value={str} onChange={(e) => onChange(e.target.value)}>
        {(spec.options ?? []).map((o) => (
          <option key={o} value={o}>
            {o === "" ? t("admin.default") : tx(`opt.${spec.key}.${o}`, o)}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === "list") {
    input = <textarea {...common} rows={2} value={str} placeholder={spec.placeholder} onChange={(e) => onChange(e.target.value)} />;
  } else {
    input = (
      <input
        {...common}
        type={spec.kind === "secret" ? "password" : spec.kind === "number" ? "number" : spec.kind === "url" ? "url" : "text"}
        autoComplete={spec.kind === "secret" ? "new-password" : "off"}
        value={str}
        placeholder={spec.placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  return (
    <label className={error ? "has-error" : undefined} htmlFor={id}>
      <span>
        {label}
        {spec.required ? " *" : ""}
      </span>
      {input}
      {hint && <span className="muted small-hint">{hint}</span>}
      {error && (
        <span className="field-error" id={errId}>
          {error}
        </span>
      )}
    </label>
  );
}
