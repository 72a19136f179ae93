// The loader a site embeds:
//   <script src="https://KANAL/widget.js" data-inbox="PUBLIC_INBOX_KEY" async></script>
// It adds a launcher button and an iframe showing Kanal's widget page, both
// inside a shadow root styled through the CSSOM only (no <style>, so a
// strict host CSP does not matter and host styles cannot reach in). The chat
// itself runs in the iframe, on Kanal's origin: the host page's scripts and
// styles cannot touch it. The two talk through postMessage, each checking
// who sent what.
//
// Optional, before the tag:
//   window.kanalSettings = { lang: "tr" | "en", user: { user_id, email, name, hmac } }
// and afterwards window.Kanal.open() / close() / toggle() / identify(user) / reset().
// data-lang="tr|en" overrides the browser language; data-position="left".

import { strings, pickLang, type Lang } from "./i18n";

interface Identity {
  user_id: string;
  email?: string;
  name?: string;
  hmac: string;
}

interface Settings {
  lang?: string;
  user?: Identity;
}

interface KanalAPI {
  open(): void;
  close(): void;
  toggle(): void;
  identify(user: Identity): void;
  reset(): void;
}

declare global {
  interface Window {
    kanalSettings?: Settings;
    Kanal?: KanalAPI;
    __kanalWidget?: boolean;
  }
}

(function () {
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script || window.__kanalWidget) return;
  const key = script.getAttribute("data-inbox") || "";
  if (!key) {
    console.warn("Kanal widget: the script tag needs data-inbox");
    return;
  }
  window.__kanalWidget = true;
  const origin = new URL(script.src).origin;
  const settings: Settings = window.kanalSettings || {};
  const lang: Lang = pickLang(script.getAttribute("data-lang") || settings.lang, navigator.language);
  const t = strings(lang);
  const left = script.getAttribute("data-position") === "left";
  let identity: Identity | undefined = settings.user;
  let open = false;
  let ready = false;
  let unread = 0;
  let color = "#1f6feb";

  const css = (el: HTMLElement | SVGElement, props: Record<string, string>) => {
    for (const k in props) el.style.setProperty(k, props[k], "important");
  };

  const host = document.createElement("div");
  host.setAttribute("data-kanal-widget", "");
  css(host, { all: "initial", position: "fixed", "z-index": "2147483000", bottom: "0", [left ? "left" : "right"]: "0", width: "0", height: "0" });
  const root = host.attachShadow({ mode: "open" });

  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-haspopup", "dialog");
  css(button, {
    all: "initial",
    position: "fixed",
    bottom: "20px",
    [left ? "left" : "right"]: "20px",
    width: "56px",
    height: "56px",
    "border-radius": "50%",
    background: color,
    color: "#fff",
    cursor: "pointer",
    display: "flex",
    "align-items": "center",
    "justify-content": "center",
    "box-shadow": "0 4px 14px rgba(0,0,0,.25)",
    "box-sizing": "border-box",
  });
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  icon.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  const chatIcon = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const closeIcon = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";
  path.setAttribute("d", chatIcon);
  icon.appendChild(path);
  button.appendChild(icon);

  const badge = document.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  css(badge, {
    all: "initial",
    position: "absolute",
    top: "-4px",
    right: "-4px",
    "min-width": "20px",
    height: "20px",
    padding: "0 6px",
    "box-sizing": "border-box",
    "border-radius": "10px",
    background: "#d1242f",
    color: "#fff",
    font: "bold 12px/20px system-ui, sans-serif",
    "text-align": "center",
    display: "none",
  });
  button.appendChild(badge);

  const frame = document.createElement("iframe");
  frame.src = `${origin}/widget/${encodeURIComponent(key)}/frame?lang=${lang}`;
  frame.title = t.frameTitle;
  frame.setAttribute("allow", "clipboard-write");
  frame.setAttribute("referrerpolicy", "no-referrer");
  const small = () => window.innerWidth < 480;
  const place = () => {
    css(frame, {
      all: "initial",
      position: "fixed",
      border: "0",
      background: "#fff",
      "color-scheme": "light",
      display: open ? "block" : "none",
      ...(small()
        ? { inset: "0", width: "100%", height: "100%", "border-radius": "0" }
        : {
            bottom: "88px",
            [left ? "left" : "right"]: "20px",
            width: "370px",
            height: "min(600px, calc(100vh - 110px))",
            "border-radius": "12px",
            "box-shadow": "0 8px 30px rgba(0,0,0,.25)",
          }),
    });
    css(button, { display: open && small() ? "none" : "flex", background: color });
  };

  const label = () => {
    const base = open ? t.closeChat : t.openChat;
    button.setAttribute("aria-label", unread > 0 && !open ? `${base} (${t.unread(unread)})` : base);
    badge.textContent = unread > 9 ? "9+" : String(unread);
    css(badge, { display: unread > 0 && !open ? "block" : "none" });
    path.setAttribute("d", open ? closeIcon : chatIcon);
    button.setAttribute("aria-expanded", String(open));
  };

  const post = (msg: Record<string, unknown>) => {
    if (ready) frame.contentWindow?.postMessage({ kanal: 1, ...msg }, origin);
  };

  const remember = (v: boolean) => {
    try {
      sessionStorage.setItem("kanal-widget-open", v ? "1" : "");
    } catch {
      /* storage blocked */
    }
  };

  const setOpen = (v: boolean, focus = true) => {
    if (v === open) return;
    open = v;
    place();
    label();
    remember(v);
    post({ type: open ? "open" : "closed" });
    if (open && focus) frame.focus();
    if (!open && focus) button.focus();
  };

  button.addEventListener("click", () => setOpen(!open));
  window.addEventListener("resize", place);
  window.addEventListener("message", (e: MessageEvent) => {
    if (e.source !== frame.contentWindow || e.origin !== origin) return;
    const d = e.data;
    if (!d || d.kanal !== 1 || typeof d.type !== "string") return;
    switch (d.type) {
      case "ready":
        ready = true;
        if (typeof d.color === "string" && /^#[0-9a-f]{6}$/i.test(d.color)) color = d.color;
        place();
        post({ type: "init", lang, identity, open });
        break;
      case "unread":
        unread = Math.max(0, Number(d.count) || 0);
        label();
        break;
      case "close":
        setOpen(false);
        break;
    }
  });

  root.appendChild(frame);
  root.appendChild(button);
  let wasOpen = false;
  try {
    wasOpen = sessionStorage.getItem("kanal-widget-open") === "1";
  } catch {
    /* storage blocked */
  }
  open = wasOpen;
  place();
  label();
  const mount = () => document.body.appendChild(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.Kanal = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!open),
    identify: (user: Identity) => {
      identity = user;
      post({ type: "identify", identity });
    },
    reset: () => {
      identity = undefined;
      post({ type: "reset" });
    },
  };
})();
