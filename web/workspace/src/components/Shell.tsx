import { useEffect, useRef, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Me } from "../api";
import { useI18n } from "../i18n";
import { useLive } from "../live";
import { navigate, routePath, useRoute } from "../router";
import { Avatar, LanguageSwitch } from "./common";
import { InboxPage } from "./InboxPage";
import { CustomerPage } from "./CustomerPage";
import { AdminPage } from "../admin/AdminPage";

export function Shell({ me }: { me: Me }) {
  const { t } = useI18n();
  const route = useRoute();
  const live = useLive();
  const qc = useQueryClient();
  const isAdmin = me.permissions.some((p) => p === "manage_inboxes" || p === "manage_teams" || p === "manage_users" || p === "manage_workspace");

  const logout = async () => {
    try {
      await api.logout();
    } finally {
      navigate("/", true);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "me" });
      void qc.resetQueries({ queryKey: ["me"] });
    }
  };

  const link = (path: string, label: string, active: boolean, testid: string) => (
    <a
      href={path}
      className={active ? "active" : ""}
      aria-current={active ? "page" : undefined}
      data-testid={testid}
      onClick={(e) => {
        e.preventDefault();
        navigate(path);
      }}
    >
      {label}
    </a>
  );

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Kanal</span>
        <span className="workspace-name" title={me.workspace.slug}>
          {me.workspace.name}
        </span>
        <nav aria-label={t("nav.label")}>
          {link("/", t("nav.inbox"), route.name === "inbox", "nav-inbox")}
          {isAdmin && link(routePath({ name: "admin", section: "inboxes" }), t("nav.admin"), route.name === "admin", "nav-admin")}
        </nav>
        <CustomerSearch />
        <span className={`live-dot ${live.status}`} title={t(`live.${live.status}`)} data-testid="live-status" data-status={live.status}>
          {t(`live.${live.status}`)}
        </span>
        <LanguageSwitch />
        <span className="me" title={me.user.email}>
          <Avatar name={me.user.name || me.user.email} size={26} />
          <span className="me-name">{me.user.name || me.user.email}</span>
        </span>
        <button type="button" className="small" onClick={() => void logout()}>
          {t("nav.logout")}
        </button>
      </header>
      {route.name === "inbox" && <InboxPage me={me} conversationId={route.conversationId} />}
      {route.name === "timeline" && <CustomerPage customerId={route.customerId} />}
      {route.name === "admin" && <AdminPage me={me} section={route.section} />}
    </div>
  );
}

function CustomerSearch() {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const id = setTimeout(() => setQ(text.trim()), 250);
    return () => clearTimeout(id);
  }, [text]);
  useEffect(() => {
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, []);
  const res = useQuery({ queryKey: ["customerSearch", q], queryFn: () => api.customers(q), enabled: q.length >= 2 });
  return (
    <div className="search" ref={box}>
      <input
        type="search"
        placeholder={t("search.placeholder")}
        aria-label={t("search.placeholder")}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
        data-testid="customer-search"
      />
      {open && q.length >= 2 && (
        <ul className="search-results" role="listbox">
          {res.isPending && <li className="muted">{t("app.loading")}</li>}
          {res.data?.items.length === 0 && <li className="muted">{t("search.none")}</li>}
          {res.data?.items.map((c) => (
            <li key={c.id} role="option" aria-selected="false">
              <button
                type="button"
                onClick={() => {
                  setOpen(false);
                  navigate(routePath({ name: "timeline", customerId: c.id }));
                }}
              >
                <strong>{c.name || t("customer.unnamed")}</strong>
                <span className="muted">{[c.email, c.phone].filter(Boolean).join(" · ")}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
