package adminui

import "testing"

func TestFormatAmount(t *testing.T) {
	for _, c := range []struct {
		value string
		scale int
		want  string
	}{
		{"12345", 2, "123.45"},
		{"5", 2, "0.05"},
		{"0", 2, "0.00"},
		{"100", 0, "100"},
		{"18446744073709551615", 9, "18446744073.709551615"},
		{"", 2, ""},
		{"-5", 2, "-5"},
	} {
		if got := formatAmount(c.value, c.scale); got != c.want {
			t.Errorf("formatAmount(%q, %d) = %q, want %q", c.value, c.scale, got, c.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		text  string
		scale int
		want  string // "" when refused
	}{
		{"123.45", 2, "12345"},
		{"1.5", 2, "150"},
		{" 7 ", 2, "700"},
		{"0.1", 1, "1"},
		{".5", 2, "50"},
		{"3.", 2, "300"},
		{"1.230", 2, "123"},
		{"0.000000001", 9, "1"},
		{"18446744073.709551615", 9, "18446744073709551615"},
		{"18446744073.709551616", 9, ""},
		{"1.234", 2, ""},
		{"1.5", 0, ""},
		{"-1", 2, ""},
		{"1e3", 2, ""},
		{"1,5", 2, ""},
		{"", 2, ""},
		{".", 2, ""},
		{"1.2.3", 2, ""},
	} {
		got, err := parseAmount(c.text, c.scale)
		if c.want == "" {
			if err == nil {
				t.Errorf("parseAmount(%q, %d) = %q, want an error", c.text, c.scale, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseAmount(%q, %d) = %q, %v; want %q", c.text, c.scale, got, err, c.want)
		}
	}
}
