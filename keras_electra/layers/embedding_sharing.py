"""How the generator and the discriminator share their embeddings.

Plain Python (no backend): the command line reads the choices before the
Keras backend is chosen; `ElectraPretrainer` and the preset loader resolve
the two arguments that name them.
"""

# "tied": one block for both towers (ELECTRA); "untied": one each (the
# reference's `untied_generator_embeddings`); "gdes": DeBERTaV3's
# gradient-disentangled sharing.
EMBEDDING_SHARING = ("tied", "untied", "gdes")


def resolve_embedding_sharing(tie_embeddings, embedding_sharing):
    """`embedding_sharing` from either argument (`tie_embeddings` is the
    older boolean: True is "tied", False "untied")."""
    if embedding_sharing is None:
        return "untied" if tie_embeddings is False else "tied"
    if embedding_sharing not in EMBEDDING_SHARING:
        raise ValueError(
            "`embedding_sharing` must be one of "
            f"{', '.join(EMBEDDING_SHARING)}. Received: {embedding_sharing!r}"
        )
    if tie_embeddings is not None and tie_embeddings != (
        embedding_sharing == "tied"
    ):
        raise ValueError(
            f"`tie_embeddings={tie_embeddings}` contradicts "
            f"`embedding_sharing={embedding_sharing!r}`; pass one of them."
        )
    return embedding_sharing
