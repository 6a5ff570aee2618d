"""Readability of a report's running text: Flesch–Douma for Dutch, Flesch reading ease for
English (issue 15: the staff edition is written at B1 level).

- Flesch (1948), *J. Appl. Psychol.* 32:221: RE = 206.835 − 1.015·(words/sentence) −
  84.6·(syllables/word);
- Douma (1960), the Dutch adaptation: RE = 206.84 − 0.77·(syllables per 100 words) −
  0.93·(words/sentence).

60–70 reads as "fairly easy" (B1), 50–60 as "fairly difficult". Syllables are counted as
groups of vowels ("ij" is one vowel in Dutch; a silent final "e" is not counted in English),
the usual approximation of readability tools.
"""
from __future__ import annotations

import re

from .common import plain_text

VOWELS = re.compile(r"[aeiouyáéíóúëïöüàèâêîôû]+")
WORD = re.compile(r"[A-Za-zÀ-ÿ’'-]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def syllables(word: str, lang: str) -> int:
    w = word.lower()
    if lang == "nl":
        w = w.replace("ij", "y")
    n = len(VOWELS.findall(w))
    if lang == "en" and n > 1 and w.endswith("e") and not w.endswith(("le", "ee")):
        n -= 1
    return max(1, n)


def reading_ease(text: str, lang: str) -> dict:
    """``{score, words_per_sentence, syllables_per_word, sentences, words}`` of ``text``."""
    sentences = [s for s in SENTENCE_END.split(text) if re.search(r"\w", s)]
    words = WORD.findall(text)
    if not sentences or not words:
        return {"score": float("nan"), "words_per_sentence": float("nan"), "syllables_per_word": float("nan"),
                "sentences": len(sentences), "words": len(words)}
    wps = len(words) / len(sentences)
    spw = sum(syllables(w, lang) for w in words) / len(words)
    score = 206.84 - 0.77 * 100 * spw - 0.93 * wps if lang == "nl" else 206.835 - 1.015 * wps - 84.6 * spw
    return {"score": score, "words_per_sentence": wps, "syllables_per_word": spw, "sentences": len(sentences),
            "words": len(words)}


def body_text(doc: dict) -> list[str]:
    """The running text of a report document: paragraphs and list items (no tables)."""
    out = []
    for s in doc["sections"]:
        for b in s["blocks"]:
            if b.get("type") == "p":
                out.append(plain_text(b["text"]))
            elif b.get("type") == "list":
                out += [plain_text(i) for i in b["items"]]
    return out
