// Every string of the widget, Turkish first. The language is data-lang (or
// kanalSettings.lang) when given, else the browser's.

export type Lang = "tr" | "en";

export function pickLang(override: string | null | undefined, browser: string | undefined): Lang {
  const o = (override || "").toLowerCase();
  if (o.startsWith("tr")) return "tr";
  if (o.startsWith("en")) return "en";
  return (browser || "tr").toLowerCase().startsWith("tr") ? "tr" : "en";
}

const tr = {
  frameTitle: "Canlı destek sohbeti",
  openChat: "Canlı desteği aç",
  closeChat: "Canlı desteği kapat",
  unread: (n: number) => `${n} okunmamış mesaj`,
  title: "Canlı destek",
  close: "Kapat",
  online: "Çevrimiçiyiz, genellikle birkaç dakika içinde yanıt veririz.",
  offline: "Şu anda çevrimiçi değiliz.",
  offlineAsk: "E-posta adresinizi bırakın, size e-postayla dönelim.",
  greeting: "Merhaba! Size nasıl yardımcı olabiliriz?",
  messages: "Mesajlar",
  you: "Siz",
  agent: "Destek ekibi",
  message: "Mesajınız",
  placeholder: "Bir mesaj yazın…",
  send: "Gönder",
  attach: "Dosya ekle",
  attachHint: (mb: number, types: string) => `En fazla ${mb} MB: ${types}`,
  images: "resimler",
  sending: "Gönderiliyor…",
  retrying: "Tekrar denenecek…",
  failed: "Gönderilemedi.",
  retry: "Tekrar dene",
  seen: "Görüldü",
  typing: "Destek ekibi yazıyor…",
  name: "Adınız",
  email: "E-posta adresiniz",
  start: "Sohbete başla",
  save: "Kaydet",
  saved: "Teşekkürler, size e-postayla döneceğiz.",
  prechatIntro: "Başlamadan önce kendinizi tanıtır mısınız?",
  badEmail: "Geçerli bir e-posta adresi yazın (ör. ayse@example.com).",
  tooLarge: (mb: number) => `Dosya ${mb} MB'tan büyük; daha küçük bir dosya gönderin.`,
  badType: (types: string) => `Bu dosya türü gönderilemez. İzin verilenler: ${types}.`,
  slowDown: (s: number) => `Çok hızlı mesaj gönderiyorsunuz; ${s} saniye sonra tekrar denenecek.`,
  connecting: "Bağlanılıyor…",
  unavailable: "Sohbet şu anda kullanılamıyor. Lütfen daha sonra tekrar deneyin.",
  download: "İndir",
  file: "Dosya",
  loadOlder: "Önceki mesajlar",
};

export type Strings = typeof tr;

const en: Strings = {
  frameTitle: "Live chat",
  openChat: "Open live chat",
  closeChat: "Close live chat",
  unread: (n: number) => `${n} unread message${n === 1 ? "" : "s"}`,
  title: "Live chat",
  close: "Close",
  online: "We're online and usually reply within a few minutes.",
  offline: "We're offline right now.",
  offlineAsk: "Leave your e-mail address and we'll answer by e-mail.",
  greeting: "Hi! How can we help you?",
  messages: "Messages",
  you: "You",
  agent: "Support team",
  message: "Your message",
  placeholder: "Write a message…",
  send: "Send",
  attach: "Attach a file",
  attachHint: (mb: number, types: string) => `Up to ${mb} MB: ${types}`,
  images: "images",
  sending: "Sending…",
  retrying: "Will try again…",
  failed: "Not sent.",
  retry: "Try again",
  seen: "Seen",
  typing: "The support team is typing…",
  name: "Your name",
  email: "Your e-mail address",
  start: "Start the chat",
  save: "Save",
  saved: "Thank you, we'll answer by e-mail.",
  prechatIntro: "Before we start, who are you?",
  badEmail: "Enter a valid e-mail address (e.g. ayse@example.com).",
  tooLarge: (mb: number) => `The file is larger than ${mb} MB; send a smaller one.`,
  badType: (types: string) => `This type of file cannot be sent. Allowed: ${types}.`,
  slowDown: (s: number) => `You are sending messages too fast; trying again in ${s} seconds.`,
  connecting: "Connecting…",
  unavailable: "The chat is not available right now. Please try again later.",
  download: "Download",
  file: "File",
  loadOlder: "Earlier messages",
};

export function strings(lang: Lang): Strings {
  return lang === "en" ? en : tr;
}
