import { useEffect, useState } from "react";

// A tiny history router: Kanal serves index.html for every app path.

export type Route =
  | { name: "inbox"; conversationId: string | null }
  | { name: "timeline"; customerId: string }
  | { name: "admin"; section: "inboxes" | "teams" | "users" | "settings" };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "conversations" && parts[1]) return { name: "inbox", conversationId: parts[1] };
  if (parts[0] === "customers" && parts[1] && parts[2] === "timeline") return { name: "timeline", customerId: parts[1] };
  if (parts[0] === "admin") {
    const s = parts[1];
    if (s === "teams" || s === "users" || s === "settings" || s === "inboxes") return { name: "admin", section: s };
    return { name: "admin", section: "inboxes" };
  }
  return { name: "inbox", conversationId: null };
}

export function routePath(r: Route): string {
  switch (r.name) {
    case "inbox":
      return r.conversationId ? `/conversations/${encodeURIComponent(r.conversationId)}` : "/";
    case "timeline":
      return `/customers/${encodeURIComponent(r.customerId)}/timeline`;
    case "admin":
      return `/admin/${r.section}`;
  }
}

export function navigate(path: string, replace = false) {
  const search = window.location.search;
  if (window.location.pathname === path) return;
  if (replace) window.history.replaceState(null, "", path + search);
  else window.history.pushState(null, "", path + search);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [path, setPath] = useState(() => window.location.pathname);
  useEffect(() => {
    const on = () => setPath(window.location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return parseRoute(path);
}
