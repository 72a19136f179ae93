import { useState, type FormEvent } from "react";
import { api, ApiError, type Me } from "../api";
import { useI18n } from "../i18n";
import { LanguageSwitch } from "./common";

/** First run: no workspace exists yet. Creates it and its owner, then logs in. */
export function Setup({ onDone }: { onDone: (m: Me) => void }) {
  const { t } = useI18n();
  const [form, setForm] = useState({ workspace: "", name: "", email: "", password: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const fieldError = (k: string) => (error instanceof ApiError ? error.fields[k] : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await api.setup({ ...form, workspace: form.workspace.trim(), email: form.email.trim() }));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="setup-title">
        <div className="auth-head">
          <span className="brand">Kanal</span>
          <LanguageSwitch />
        </div>
        <h1 id="setup-title">{t("setup.title")}</h1>
        <p className="muted">{t("setup.intro")}</p>
        <label>
          {t("setup.workspace")}
          <input required value={form.workspace} onChange={set("workspace")} placeholder={t("setup.workspacePlaceholder")} />
          {fieldError("workspace") && <span className="field-error">{fieldError("workspace")}</span>}
        </label>
        <label>
          {t("setup.name")}
          <input autoComplete="name" value={form.name} onChange={set("name")} />
        </label>
        <label>
          {t("login.email")}
          <input type="email" autoComplete="username" required value={form.email} onChange={set("email")} />
          {fieldError("email") && <span className="field-error">{fieldError("email")}</span>}
        </label>
        <label>
          {t("login.password")}
          <input type="password" autoComplete="new-password" required minLength={8} value={form.password} onChange={set("password")} />
          <span className="hint">{t("setup.passwordHint")}</span>
          {fieldError("password") && <span className="field-error">{fieldError("password")}</span>}
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error instanceof ApiError && error.code === "conflict" ? t("setup.done") : error.message}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t("common.wait") : t("setup.submit")}
        </button>
      </form>
    </main>
  );
}
