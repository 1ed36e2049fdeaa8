"""The generated demo corpus is deterministic, balanced, and not trivially separable."""

from collections import Counter

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from trainer.text.demo_data import CLASSES, generate_messages, write_messages_jsonl


def test_the_corpus_is_seeded_and_balanced(tmp_path):
    first, again = generate_messages(600, seed=3), generate_messages(600, seed=3)
    assert first == again
    assert generate_messages(600, seed=4) != first
    counts = Counter(m["label"] for m in first)
    assert set(counts) == set(CLASSES)
    assert max(counts.values()) - min(counts.values()) < 60  # 4% of labels are flipped
    path = write_messages_jsonl(tmp_path / "m.jsonl", 30)
    assert len(path.read_text().splitlines()) == 30


def test_a_bag_of_words_is_good_but_not_perfect():
    messages = generate_messages(1500)
    words = CountVectorizer().fit_transform([m["text"] for m in messages])
    labels = [m["label"] for m in messages]
    accuracy = cross_val_score(LogisticRegression(max_iter=2000), words, labels, cv=5).mean()
    assert 0.8 < accuracy < 0.99
