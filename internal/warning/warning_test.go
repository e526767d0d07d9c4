package warning

import "testing"

func TestCatalogComplete(t *testing.T) {
	if len(All()) == 0 {
		t.Fatal("empty catalog")
	}
	for _, w := range All() {
		for _, lang := range Languages {
			if w.Title[lang] == "" || w.Text[lang] == "" || len(w.Steps[lang]) == 0 {
				t.Errorf("%s: %s text incomplete", w.Code, lang)
			}
		}
		if len(w.Steps["zh-CN"]) != len(w.Steps["en"]) {
			t.Errorf("%s: step counts differ between languages", w.Code)
		}
		if got, ok := Lookup(w.Code); !ok || got.Code != w.Code {
			t.Errorf("Lookup(%s) failed", w.Code)
		}
	}
}
