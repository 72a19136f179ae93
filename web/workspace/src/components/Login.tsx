import { useState, type FormEvent } from "react";
import { api, ApiError, type Me } from "../api";
import { useI18n } from "../i18n";
import { LanguageSwitch } from "./common";

export function Login({ onDone }: { onDone: (m: Me) => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [workspace, setWorkspace] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await api.login(email.trim(), password, workspace.trim() || undefined));
    } catch (err) {
      const code = err instanceof ApiError ? err.code : "";
      setError(
        code === "bad_credentials"
          ? t("login.bad")
          : code === "rate_limited"
            ? t("login.rateLimited")
            : code === "no_workspace"
              ? t("login.noWorkspace")
              : err instanceof Error
                ? err.message
                : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="auth-head">
          <span className="brand">Kanal</span>
          <LanguageSwitch />
        </div>
        <h1 id="login-title">{t("login.title")}</h1>
        <label>
          {t("login.email")}
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("login.password")}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <details>
          <summary>{t("login.more")}</summary>
          <label>
            {t("login.workspace")}
            <input value={workspace} onChange={(e) => setWorkspace(e.target.value)} placeholder="acme-destek" />
          </label>
        </details>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t("common.wait") : t("login.submit")}
        </button>
      </form>
    </main>
  );
}
