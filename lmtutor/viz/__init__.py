"""Figures of the book: attention views (static and interactive), loss curves, matrices.

Attention, in three steps (chapters 5, 6, 8, 13):

1. Get the weights of one input with readable tokens, as ``AttentionData`` ((L, H, T_q, T_k)):

   - ``attention_from_hf(model, tokenizer, text, text_pair=None, target=None, max_length=None)``
     for 🤗 models (eager attention is switched on for the call); encoder–decoder models take
     ``target`` and give ``Seq2SeqAttention(encoder, decoder, cross)``;
   - ``attention_from_lmtutor(model, idx, tokenizer_or_decode=None)`` for an ``lmtutor`` GPT;
   - ``attention_data(weights, tokens=None, key_tokens=None, kind="self", segment_b_start=None)``
     for any weights you computed (any rank from (T_q, T_k) to (L, H, T_q, T_k)).

   ``readable_tokens(tokens)`` shows sub-tokens readably: ``##ing`` -> ``·ing``, ``Ġthe`` -> ``the``,
   ``' '`` -> ``␣``, ``'\\n'`` -> ``⏎``; special tokens stay as they are and are flagged.

2. Static figures (matplotlib): ``plot_attention(data, layer, head)``, ``attention_heatmap(weights,
   x_labels, y_labels)``, ``attention_grid(data_or_weights)`` (layers x heads),
   ``plot_seq2seq_attention(data)``, ``plot_head_summary(data)``, ``head_tables(stats, keys, title)``
   (one layer x head table per statistic).

3. Interactive views (HTML + inline JavaScript, no network, no kernel needed):
   ``head_view(data, layer=0, head=None)`` and ``model_view(data)`` return an ``AttentionView``
   that displays itself in a notebook, carries a PNG for PDF, and ``.save("page.html")``.

Embeddings (chapter 3): ``plot_projection(points, labels, groups)``, ``neighbour_view(query, ...)``
and the ipywidgets ``embedding_explorer(texts, embeddings, embed_fn)``.

Numbers: ``mean_attention_distance``, ``attention_entropy``, ``head_summary``, ``attention_rollout``.
"""

from .analysis import attention_entropy, attention_rollout, head_summary, mean_attention_distance
from .embeddings import embedding_explorer, neighbour_view, plot_projection
from .extract import AttentionData, Seq2SeqAttention, attention_data, attention_from_hf, attention_from_lmtutor
from .heads import head_tables, plot_head_summary
from .interactive import AttentionView, head_view, model_view
from .static import (
    attention_grid,
    attention_heatmap,
    plot_attention,
    plot_loss,
    plot_matrix,
    plot_seq2seq_attention,
)
from .tokens import readable_tokens

__all__ = [
    "AttentionData",
    "AttentionView",
    "Seq2SeqAttention",
    "attention_data",
    "attention_entropy",
    "attention_from_hf",
    "attention_from_lmtutor",
    "attention_grid",
    "attention_heatmap",
    "attention_rollout",
    "embedding_explorer",
    "head_summary",
    "head_tables",
    "head_view",
    "mean_attention_distance",
    "model_view",
    "neighbour_view",
    "plot_attention",
    "plot_head_summary",
    "plot_loss",
    "plot_matrix",
    "plot_projection",
    "plot_seq2seq_attention",
    "readable_tokens",
]
