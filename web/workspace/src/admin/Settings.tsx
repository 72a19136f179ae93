import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Me, type Workspace, type WorkspaceSettings } from "../api";
import { useI18n } from "../i18n";
import { keys } from "../realtime";
import { loadCanned, saveCanned, type Canned } from "../canned";
import { ErrorBanner } from "../components/common";

export function SettingsAdmin({ me }: { me: Me }) {
  const { t } = useI18n();
  return (
    <div data-testid="settings-admin">
      <h1>{t("admin.settings")}</h1>
      <WorkspaceForm canEdit={me.permissions.includes("manage_workspace")} />
      <CannedEditor />
    </div>
  );
}

function WorkspaceForm({ canEdit }: { canEdit: boolean }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const ws = useQuery({ queryKey: keys.workspace, queryFn: api.workspace });
  const [name, setName] = useState("");
  const [s, setS] = useState<WorkspaceSettings | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (ws.data) {
      setName(ws.data.name);
      setS(ws.data.settings);
    }
  }, [ws.data]);
  const save = useMutation<Workspace, ApiError, void>({
    mutationFn: () => api.patchWorkspace({ name: name.trim(), settings: s ?? undefined }),
    onSuccess: (w) => {
      qc.setQueryData(keys.workspace, w);
      void qc.invalidateQueries({ queryKey: keys.me });
      setSaved(true);
      setTimeout(() => setSaved(false), 2000);
    },
  });
  if (!s) return <ErrorBanner error={ws.error} />;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="settings-form" onSubmit={submit} data-testid="workspace-form">
      <h2>{t("settings.workspace")}</h2>
      {!canEdit && <p className="muted">{t("settings.ownerOnly")}</p>}
      <fieldset disabled={!canEdit}>
        <label>
          {t("admin.name")}
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </label>
        <label className="check">
          <input type="checkbox" checked={s.continuity} onChange={(e) => setS({ ...s, continuity: e.target.checked })} />
          {t("settings.continuity")}
        </label>
        <span className="hint">{t("settings.continuityHint")}</span>
        <label>
          {t("settings.windowDays")}
          <input
            type="number"
            min={0}
            max={365}
            value={s.continuity_window_days}
            onChange={(e) => setS({ ...s, continuity_window_days: Number(e.target.value) })}
          />
        </label>
        <label>
          {t("settings.phoneRegion")}
          <input
            value={s.phone_region}
            maxLength={2}
            pattern="[A-Za-z]{2}"
            onChange={(e) => setS({ ...s, phone_region: e.target.value.toLocaleUpperCase("en") })}
          />
        </label>
        <label>
          {t("settings.locale")}
          <select value={s.locale} onChange={(e) => setS({ ...s, locale: e.target.value as WorkspaceSettings["locale"] })}>
            <option value="tr">{t("lang.tr")}</option>
            <option value="en">{t("lang.en")}</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={save.isPending}>
          {saved ? t("common.saved") : t("common.save")}
        </button>
      </fieldset>
      <ErrorBanner error={save.error} />
    </form>
  );
}

function CannedEditor() {
  const { t, locale } = useI18n();
  const [list, setList] = useState<Canned[]>(() => loadCanned(locale));
  const [shortcut, setShortcut] = useState("");
  const [text, setText] = useState("");
  const update = (next: Canned[]) => {
    setList(next);
    saveCanned(next);
  };
  return (
    <section className="settings-form" data-testid="canned-editor">
      <h2>{t("settings.canned")}</h2>
      <p className="hint">{t("settings.cannedHint")}</p>
      <ul className="canned-admin">
        {list.map((c, i) => (
          <li key={c.shortcut + i}>
            <code>/{c.shortcut}</code> <span>{c.text}</span>{" "}
            <button type="button" className="small danger" onClick={() => update(list.filter((_, j) => j !== i))}>
              {t("common.delete")}
            </button>
          </li>
        ))}
      </ul>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const sc = shortcut.trim().replace(/^\//, "");
          if (!sc || !text.trim()) return;
          update([...list.filter((c) => c.shortcut !== sc), { shortcut: sc, text: text.trim() }]);
          setShortcut("");
          setText("");
        }}
      >
        <label>
          {t("settings.shortcut")}
          <input value={shortcut} onChange={(e) => setShortcut(e.target.value)} required maxLength={40} />
        </label>
        <label className="grow">
          {t("settings.text")}
          <input value={text} onChange={(e) => setText(e.target.value)} required />
        </label>
        <button type="submit" className="primary">
          {t("admin.add")}
        </button>
      </form>
    </section>
  );
}
