package email

import "testing"

func TestFold(t *testing.T) {
	cases := []struct {
		name, subject, text, want string
		folded                    bool
	}{
		{"gmail en, attribution on one line", "",
			"Thanks, that works.\n\nOn Mon, Aug 31, 2026 at 9:01 AM Support <support@example.com> wrote:\n> Try again please.", "Thanks, that works.", true},
		{"gmail tr, attribution wrapped", "",
			"Tamam.\n\n31 Ağu 2026 Pzt, 09:01 tarihinde Destek <support@example.com>\nşunu yazdı:\n\n> Tekrar dener misiniz?", "Tamam.", true},
		{"apple mail tr", "",
			"Oldu, teşekkürler.\n\n31 Ağu 2026 tarihinde 09:01 saatinde, Destek <support@example.com> şunları yazdı:\n\n> Deneyin.", "Oldu, teşekkürler.", true},
		{"thunderbird tr", "",
			"Hâlâ bekliyorum.\n\n31.08.2026 09:01 tarihinde Destek yazdı:\n> Kargoda.", "Hâlâ bekliyorum.", true},
		{"outlook en block", "",
			"Please cancel.\n\nFrom: Support <support@example.com>\nSent: Monday, August 31, 2026 9:01 AM\nTo: Can <can@example.com>\nSubject: Order\n\nYour order shipped.",
			"Please cancel.", true},
		{"outlook tr block after underscores", "",
			"İptal edin.\n\n________________________________\nKimden: Destek <support@example.com>\nGönderildi: 31 Ağustos 2026 Pazartesi 09:01\nKime: Can\nKonu: Sipariş\n\nKargoda.",
			"İptal edin.", true},
		{"original message separator tr", "",
			"Evet.\n\n-----Özgün İleti-----\nKimden: Destek\nKonu: Soru\n\nOnaylıyor musunuz?", "Evet.", true},
		{"original message separator en", "",
			"Yes.\n-----Original Message-----\nFrom: Support\nQuestion?", "Yes.", true},
		{"german", "", "Danke.\n\nAm 31.08.2026 um 09:01 schrieb Support <support@example.com>:\n> Hallo", "Danke.", true},
		{"trailing quotes without attribution", "", "Olur.\n\n> Yarın gelelim mi?\n> Saat 10?", "Olur.", true},
		{"interleaved answers are kept", "",
			"> Adresiniz?\nKadıköy.\n> Telefon?\n0532 000 00 00", "> Adresiniz?\nKadıköy.\n> Telefon?\n0532 000 00 00", false},
		{"bottom posting is kept", "",
			"On Mon, Aug 31, 2026 at 9:01 AM Support <support@example.com> wrote:\n> Adresiniz?\n\nKadıköy.",
			"On Mon, Aug 31, 2026 at 9:01 AM Support <support@example.com> wrote:\n> Adresiniz?\n\nKadıköy.", false},
		{"signature delimiter", "", "Kargom nerede?\n\n-- \nAli Veli\n0532", "Kargom nerede?", true},
		{"double dash without space is not a signature", "", "Birinci bölüm\n--\nİkinci bölüm", "Birinci bölüm\n--\nİkinci bölüm", false},
		{"sent from my iphone", "", "Ok\n\nSent from my iPhone", "Ok", true},
		{"iphone'umdan gönderildi", "", "Tamam\n\niPhone'umdan gönderildi", "Tamam", true},
		{"outlook mobile tr", "", "Geliyorum\n\nAndroid için Outlook'u edinin", "Geliyorum", true},
		{"forward by subject", "Fwd: Fatura", "Bakar mısınız?\n\nOn Mon, Aug 31, 2026 Bob <b@example.com> wrote:\n> Fatura ekte", "Bakar mısınız?\n\nOn Mon, Aug 31, 2026 Bob <b@example.com> wrote:\n> Fatura ekte", false},
		{"forward marker stops folding", "",
			"Bakın:\n\n---------- İletilen ileti ---------\nKimden: Kargo <k@example.com>\nTarih: 31 Ağu\nKonu: Teslimat\nKime: ben\n\nTeslim edilemedi.",
			"Bakın:\n\n---------- İletilen ileti ---------\nKimden: Kargo <k@example.com>\nTarih: 31 Ağu\nKonu: Teslimat\nKime: ben\n\nTeslim edilemedi.", false},
		{"a sentence that mentions writing is kept", "", "Dün size yazdım: cevap yok.\nLütfen dönün.", "Dün size yazdım: cevap yok.\nLütfen dönün.", false},
		{"only a tagline is kept", "", "Sent from my iPhone", "Sent from my iPhone", false},
		{"empty", "", "  \n ", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, folded := FoldSubject(tc.text, tc.subject)
			if got != tc.want || folded != tc.folded {
				t.Fatalf("got %q (folded %v), want %q (folded %v)", got, folded, tc.want, tc.folded)
			}
		})
	}
}
