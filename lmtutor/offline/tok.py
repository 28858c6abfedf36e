"""🤗 tokenizers for the book's own checkpoints, built with the ``tokenizers`` library (chapter 13).

* ``gpt_char_tokenizer``: one id per character, exactly the ids of ``lmtutor.CharTokenizer``
  (for the Shakespeare GPT exported to GPT-2 format).
* ``seq2seq_bpe_tokenizer``: a BPE tokenizer trained on a task's text, with T5's special ids
  (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2), ``▁`` marking word starts as in SentencePiece, and
  digits kept one per token.

Both are wrapped in ``PreTrainedTokenizerFast``: after ``save_pretrained(folder)``,
``AutoTokenizer.from_pretrained(folder)`` gives them back, and ``tokenizer(text, return_tensors="pt")``
and ``decode(ids, skip_special_tokens=True)`` work as for hub models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["char_tokenizer", "gpt_char_tokenizer", "seq2seq_bpe_tokenizer", "SEQ2SEQ_SPECIALS"]

SEQ2SEQ_SPECIALS = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}  # ids 0, 1, 2 as in T5


def char_tokenizer(vocab: Sequence[str], specials: dict[str, str] | None = None, eos_after_input: bool = False):
    """A ``PreTrainedTokenizerFast`` whose ids are the positions in ``vocab`` (characters and special tokens).

    ``specials`` maps roles to tokens of ``vocab`` (``{"pad_token": "<pad>", "eos_token": "</s>"}``);
    ``eos_after_input`` appends the end token to every encoded text, as T5 and Marian tokenizers do.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab, specials = list(vocab), dict(specials or {})
    if len(set(vocab)) != len(vocab):
        raise ValueError("the vocabulary has duplicate entries; each character or special token must appear once")
    special_tokens = set(specials.values())
    missing = special_tokens - set(vocab)
    if missing:
        raise ValueError(f"special tokens {sorted(missing)} are not in the vocabulary; add them to it first")
    bad = [t for t in vocab if len(t) != 1 and t not in special_tokens]
    if bad:
        raise ValueError(f"vocabulary entries {bad[:5]} are neither single characters nor special tokens")
    ids = {token: i for i, token in enumerate(vocab)}
    backend = Tokenizer(models.WordLevel(vocab=ids, unk_token=specials.get("unk_token")))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
    backend.decoder = decoders.Fuse()  # join the characters back without spaces
    if eos_after_input:
        backend.post_processor = _eos_after_input(specials["eos_token"], ids[specials["eos_token"]])
    backend.add_special_tokens(sorted(special_tokens))  # never split, dropped by skip_special_tokens
    return PreTrainedTokenizerFast(tokenizer_object=backend, clean_up_tokenization_spaces=False, **specials)


def gpt_char_tokenizer(chars: Sequence[str]):
    """The tokenizer of a character GPT: id ``i`` is ``chars[i]``, no special tokens (as ``lmtutor.CharTokenizer``)."""
    return char_tokenizer(chars)


def _eos_after_input(eos: str, eos_id: int):
    from tokenizers import processors

    return processors.TemplateProcessing(single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, eos_id)])


def seq2seq_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 1000):
    """A BPE tokenizer trained on ``texts``: ``<pad>`` 0, ``</s>`` 1 (appended to every input), ``<unk>`` 2."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("seq2seq_bpe_tokenizer needs a non-empty list of strings to learn its merges from")
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation()]
    )  # words start with "▁"; "2021" -> 2 0 2 1; "-" and "," apart
    backend.decoder = decoders.Metaspace()  # "▁" back to spaces
    alphabet = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    alphabet += [a.upper() for a in alphabet] + list("0123456789▁")  # unseen words still spell out
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SEQ2SEQ_SPECIALS.values()), initial_alphabet=alphabet
    )
    backend.train_from_iterator(texts, trainer)
    backend.post_processor = _eos_after_input("</s>", 1)
    return PreTrainedTokenizerFast(tokenizer_object=backend, clean_up_tokenization_spaces=False, **SEQ2SEQ_SPECIALS)
