package text

import "testing"

func TestFold(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Işık", "isik"},
		{"IŞIK", "isik"},
		{"ışık", "isik"},
		{"isik", "isik"},
		{"İSTANBUL IĞDIR", "istanbul igdir"},
		{"Çağrı  Şükrü Öz", "cagri sukru oz"},
		{"i̇stanbul", "istanbul"}, // i + combining dot above
		{"  Ayşe\tYılmaz ", "ayse yilmaz"},
	}
	for _, c := range cases {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEmail(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{in: "Ayse@Example.COM", want: "ayse@example.com"},
		{in: "İLKER@ÖRNEK.com.tr", want: "ilker@xn--rnek-4qa.com.tr"},
		{in: "Ali Veli <ali@example.com>", want: "ali@example.com"},
		{in: "DENIZ.ILHAN@example.com", want: "deniz.ilhan@example.com"},
		{in: "not-an-address", bad: true},
		{in: "", bad: true},
	}
	for _, c := range cases {
		got, err := Email(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("Email(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Email(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestPhone(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{in: "0532 123 45 67", want: "+905321234567"},
		{in: "+90 (532) 123-4567", want: "+905321234567"},
		{in: "905321234567", want: "+905321234567"},
		{in: "00905321234567", want: "+905321234567"},
		{in: "+1 415 555 2671", want: "+14155552671"},
		{in: "12", bad: true},
		{in: "abc", bad: true},
	}
	for _, c := range cases {
		got, err := Phone(c.in, "TR")
		if c.bad {
			if err == nil {
				t.Errorf("Phone(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Phone(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
