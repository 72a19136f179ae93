"use strict";
// Kanal demo: the customer simulator's page. Plain JavaScript, no build step.
// It polls the simulator's JSON API every second.

const lang = ((navigator.languages && navigator.languages[0]) || navigator.language || "en").toLowerCase();
const TR = lang.startsWith("tr");

const TEXT = {
  en: {
    title: "customer simulator", open: "Open Kanal ↗", login: "Log in as", tour: "▶ Tour",
    starting: "Waiting for Kanal to start…", channels: "Channel", customers: "Customer",
    hint: "Write as a customer: the simulator sends the message to Kanal exactly as the provider would (signed webhook). Answer it in Kanal and the reply shows up here, with its delivery ticks.",
    attach: "photo", placeholder: "Write a message", send: "Send", empty: "No messages yet. Say hello!",
    noImages: "Netgsm carries text only", polled: "Kanal polls Netgsm every 30 seconds: an SMS appears in Kanal at the next poll, and so does a reply's delivery report.",
    noReceipts: "Telegram reports no delivery or read to bots: replies keep one tick.",
    sending: "sending…", waiting: "waiting for Kanal's next poll", accepted: "received by Kanal", failed: "Kanal refused it",
    sent: "sent", delivered: "delivered", read: "read", tourStarted: "Tour started: five customers write on five channels.",
    kanal: "Kanal", attachment: "attachment",
  },
  tr: {
    title: "müşteri simülatörü", open: "Kanal'ı aç ↗", login: "Giriş:", tour: "▶ Tur başlat",
    starting: "Kanal'ın açılması bekleniyor…", channels: "Kanal", customers: "Müşteri",
    hint: "Bir müşteri gibi yazın: simülatör mesajı Kanal'a tam sağlayıcının göndereceği gibi (imzalı webhook) iletir. Kanal'da yanıtlayın; yanıt teslim tikleriyle burada görünür.",
    attach: "fotoğraf", placeholder: "Bir mesaj yazın", send: "Gönder", empty: "Henüz mesaj yok. Merhaba deyin!",
    noImages: "Netgsm yalnızca metin taşır", polled: "Kanal Netgsm'i 30 saniyede bir yoklar: SMS Kanal'da bir sonraki yoklamada görünür, yanıtın teslim raporu da öyle.",
    noReceipts: "Telegram botlara teslim ya da okundu bilgisi vermez: yanıtlar tek tikte kalır.",
    sending: "gönderiliyor…", waiting: "Kanal'ın sıradaki yoklaması bekleniyor", accepted: "Kanal'a ulaştı", failed: "Kanal kabul etmedi",
    sent: "gönderildi", delivered: "iletildi", read: "okundu", tourStarted: "Tur başladı: beş müşteri beş kanaldan yazıyor.",
    kanal: "Kanal", attachment: "ek",
  },
};
const t = (k) => (TR ? TEXT.tr : TEXT.en)[k] || TEXT.en[k] || k;

const COLORS = {
  whatsapp: "#25D366", instagram: "#E1306C", messenger: "#0084FF",
  telegram: "#229ED9", twilio: "#F22F46", netgsm: "#0B4EA2",
};

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "style") e.style.cssText = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
};

const state = {
  info: null, channels: [], personas: [], messages: [], version: -1,
  channel: "whatsapp", persona: "ayse", seen: {},
};

function applyI18n() {
  document.documentElement.lang = TR ? "tr" : "en";
  document.title = "Kanal demo · " + t("title");
  for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll("[data-i18n-placeholder]")) n.placeholder = t(n.dataset.i18nPlaceholder);
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

async function postJSON(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty */ }
  return { ok: r.ok, status: r.status, data };
}

const key = (c, p) => c + "/" + p;
const channel = () => state.channels.find((c) => c.id === state.channel) || state.channels[0];
const persona = () => state.personas.find((p) => p.id === state.persona) || state.personas[0];

function formatPhone(e164) {
  const m = /^\+90(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(e164);
  return m ? `+90 ${m[1]} ${m[2]} ${m[3]} ${m[4]}` : e164;
}

function address(c, p) {
  switch (c) {
    case "whatsapp": case "twilio": case "netgsm": return formatPhone(p.phone);
    case "instagram": return "@" + p.instagram;
    case "telegram": return "@" + p.telegram_username;
    case "messenger": return "PSID " + p.psid;
    default: return "";
  }
}

function initials(name) {
  return name.split(" ").map((w) => w[0]).join("").slice(0, 2).toLocaleUpperCase(TR ? "tr" : "en");
}

function unread(c, p) {
  const n = state.messages.filter((m) => m.channel === c && m.persona === p && m.from === "agent").length;
  return n - (state.seen[key(c, p)] || 0);
}

function renderSide() {
  const ul = $("channels");
  ul.replaceChildren(...state.channels.map((c) => {
    const n = state.personas.reduce((sum, p) => sum + (c.id === state.channel && p.id === state.persona ? 0 : unread(c.id, p.id)), 0);
    const b = el("button", { type: "button", "aria-pressed": String(c.id === state.channel), style: `--c:${COLORS[c.id]}` },
      el("span", { className: "dot" }), el("span", { className: "persona-text", textContent: c.label }),
      n > 0 ? el("span", { className: "badge", textContent: String(n) }) : null);
    b.addEventListener("click", () => { state.channel = c.id; render(); $("text").focus(); });
    return el("li", {}, b);
  }));
  const pl = $("personas");
  pl.replaceChildren(...state.personas.map((p) => {
    const n = p.id === state.persona ? 0 : unread(state.channel, p.id);
    const b = el("button", { type: "button", "aria-pressed": String(p.id === state.persona), style: `--c:${COLORS[state.channel]}` },
      el("span", { className: "avatar", textContent: initials(p.name) }),
      el("span", { className: "persona-text" }, el("span", { textContent: p.name }), el("small", { textContent: address(state.channel, p) })),
      n > 0 ? el("span", { className: "badge", textContent: String(n) }) : null);
    b.addEventListener("click", () => { state.persona = p.id; render(); $("text").focus(); });
    return el("li", {}, b);
  }));
}

function time(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString(TR ? "tr-TR" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

function statusMark(m) {
  if (m.from === "agent") {
    const ticks = m.status === "sent" ? "✓" : "✓✓";
    return el("span", { className: "ticks" + (m.status === "read" ? " read" : ""), title: t(m.status), textContent: ticks });
  }
  switch (m.status) {
    case "sending": case "waiting": return el("span", { title: t(m.status), textContent: "🕓" });
    case "failed": return el("span", { className: "failed", title: t("failed"), textContent: "⚠" });
    default: return el("span", { className: "ticks", title: t("accepted"), textContent: "✓✓" });
  }
}

function bubble(m) {
  const li = el("li", { className: "bubble " + m.from });
  if (m.image) li.append(el("img", { src: m.image, alt: "" }));
  if (m.text) li.append(el("div", { textContent: m.text }));
  if (m.link && /^https?:\/\//.test(m.link)) {
    li.append(el("a", { href: m.link, target: "_blank", rel: "noopener noreferrer", textContent: "📎 " + t("attachment") }));
  }
  const meta = el("div", { className: "meta" });
  if (m.from === "agent") meta.append(el("span", { textContent: t("kanal") }));
  if (m.status === "waiting") meta.append(el("span", { textContent: t("waiting") }));
  meta.append(el("span", { textContent: time(m.at) }), statusMark(m));
  li.append(meta);
  if (m.status === "failed" && m.error) li.append(el("div", { className: "err", textContent: t("failed") + ": " + m.error }));
  return li;
}

function renderChat() {
  const c = channel(), p = persona();
  if (!c || !p) return;
  const color = COLORS[c.id];
  $("chat").style.setProperty("--c", color);
  $("who").textContent = p.name;
  $("address").textContent = address(c.id, p);
  $("pill").textContent = c.label;
  const note = c.polled ? t("polled") : (c.receipts && c.receipts.length ? "" : t("noReceipts"));
  $("note").hidden = !note;
  $("note").textContent = note;
  const attach = $("attach"), label = $("attach-label");
  attach.disabled = !c.images;
  if (!c.images) attach.checked = false;
  label.classList.toggle("off", !c.images);
  label.title = c.images ? "" : t("noImages");

  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const ms = state.messages.filter((m) => m.channel === c.id && m.persona === p.id);
  list.replaceChildren(...(ms.length ? ms.map(bubble) : [el("li", { className: "empty", textContent: t("empty") })]));
  if (atBottom || state.scrollNext) list.scrollTop = list.scrollHeight;
  state.scrollNext = false;
  state.seen[key(c.id, p.id)] = ms.filter((m) => m.from === "agent").length;
}

function renderInfo() {
  const info = state.info || {};
  $("status").hidden = !!info.ready;
  $("kanal").hidden = !info.ready;
  $("tour").disabled = !info.ready || state.touring;
  $("send").disabled = !info.ready;
  if (info.ready) {
    $("kanal-link").href = info.kanal_url;
    $("login-email").textContent = info.email;
    $("login-password").textContent = info.password;
  }
}

function render() {
  const hash = "#" + state.channel + "/" + state.persona;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  renderInfo();
  renderChat();
  renderSide();
}

// fromHash picks the chat a link names: #channel/persona.
function fromHash() {
  const [c, p] = decodeURIComponent(location.hash.slice(1)).split("/");
  if (state.channels.some((x) => x.id === c)) state.channel = c;
  if (state.personas.some((x) => x.id === p)) state.persona = p;
}

function showError(msg) {
  $("error").hidden = !msg;
  $("error").textContent = msg || "";
}

async function send(ev) {
  ev.preventDefault();
  const text = $("text").value.trim();
  const image = $("attach").checked;
  if (!text && !image) return;
  $("send").disabled = true;
  showError("");
  try {
    const r = await postJSON("/api/send", { channel: state.channel, persona: state.persona, text, image });
    if (r.ok) {
      $("text").value = "";
      $("attach").checked = false;
    } else {
      showError((r.data && (r.data.error || (r.data.status === "failed" && r.data.error))) || ("HTTP " + r.status));
    }
    state.scrollNext = true;
    await refresh();
  } catch (e) {
    showError(String(e));
  } finally {
    $("send").disabled = !(state.info && state.info.ready);
    $("text").focus();
  }
}

async function tour() {
  state.touring = true;
  renderInfo();
  const r = await postJSON("/api/tour", { lang: TR ? "tr" : "en" });
  showError(r.ok ? "" : ((r.data && r.data.error) || ("HTTP " + r.status)));
  $("status").hidden = !r.ok;
  if (r.ok) $("status").textContent = t("tourStarted");
  setTimeout(() => { state.touring = false; $("status").hidden = true; renderInfo(); }, 15000);
}

async function refresh() {
  const data = await getJSON("/api/messages");
  if (data.version !== state.version) {
    state.version = data.version;
    state.messages = data.items;
    renderChat();
    renderSide();
  }
}

async function loop() {
  try {
    if (!state.info || !state.info.ready) {
      const d = await getJSON("/api/info");
      state.info = d.info;
      renderInfo();
    }
    await refresh();
  } catch (_) {
    // The simulator may be restarting; try again.
  }
  setTimeout(loop, 1000);
}

async function main() {
  applyI18n();
  const d = await getJSON("/api/info");
  state.info = d.info;
  state.channels = d.channels;
  state.personas = d.personas;
  fromHash();
  window.addEventListener("hashchange", () => { fromHash(); render(); });
  $("composer").addEventListener("submit", send);
  $("tour").addEventListener("click", tour);
  render();
  loop();
}

main();
