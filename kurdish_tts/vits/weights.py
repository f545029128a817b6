"""Weights of the generator while it trains: VITS's initialisation and the decoder's weight norm.

`VitsModel(config)` initialises every convolution with Kaiming-normal weights, about 2.5 times
PyTorch's default: measured on the stand-in's config, 89 % of the random decoder's samples sit at
tanh's ceiling (a clipped buzz the discriminator tells from speech at once, with almost no
gradient through tanh), the KL starts near 6,400 instead of 90, and the flow is far from the
identity it should start as. `initialize_like_vits` gives a model built from a config the
original VITS's starting point. `add_decoder_weight_norm` puts back the weight norm VITS trains
its HiFi-GAN decoder with (MMS too); `plain_state_dict` folds it for saving, so that a saved
folder is the plain layout `VitsModel.from_pretrained` reads.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


def initialize_like_vits(model) -> None:
    """PyTorch's default initialisation for every convolution and linear layer without weight norm,
    the flow's and the duration flows' output layers at zero (each starts as the identity), token
    embeddings N(0, 1/hidden), attention projections Xavier-uniform, as the original VITS does."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear)) and not parametrize.is_parametrized(module):
            module.reset_parameters()
    for coupling in model.flow.flows:
        nn.init.zeros_(coupling.conv_post.weight)
        nn.init.zeros_(coupling.conv_post.bias)
    predictor = model.duration_predictor
    for flows in (getattr(predictor, "flows", []), getattr(predictor, "post_flows", [])):
        for flow in flows:
            if hasattr(flow, "conv_proj"):  # the conv flows; the first flow is affine and starts at zero
                nn.init.zeros_(flow.conv_proj.weight)
                nn.init.zeros_(flow.conv_proj.bias)
    embeddings = model.text_encoder.embed_tokens
    nn.init.normal_(embeddings.weight, 0.0, model.config.hidden_size**-0.5)
    for layer in model.text_encoder.encoder.layers:
        for projection in (layer.attention.q_proj, layer.attention.k_proj, layer.attention.v_proj):
            nn.init.xavier_uniform_(projection.weight)


def train_every_token(model) -> None:
    """Let the embedding of token id 0 learn too. `VitsConfig.pad_token_id` (0) makes it a padding row
    that never gets a gradient, but in an MMS vocabulary id 0 is a letter (Kurmanji's "n") and the
    blank between characters, which the original VITS trains like any other token. Padding is
    masked out in the text encoder either way."""
    model.text_encoder.embed_tokens.padding_idx = None


def decoder_convolutions(model) -> list[nn.Module]:
    """The HiFi-GAN convolutions VITS trains under weight norm: upsampling and residual blocks."""
    decoder = model.decoder
    layers = list(decoder.upsampler)
    for block in decoder.resblocks:
        layers += list(block.convs1) + list(block.convs2)
    return layers


def add_decoder_weight_norm(model) -> None:
    """Weight norm on the decoder's convolutions (the function the model computes stays the same)."""
    for layer in decoder_convolutions(model):
        if not parametrize.is_parametrized(layer, "weight"):
            weight_norm(layer)


def plain_state_dict(model) -> dict[str, torch.Tensor]:
    """The model's weights with the decoder's weight norm folded in: the keys of a plain VitsModel."""
    state = model.state_dict()
    for name, module in model.named_modules():
        if name.startswith("decoder.") and parametrize.is_parametrized(module, "weight"):
            del state[f"{name}.parametrizations.weight.original0"], state[f"{name}.parametrizations.weight.original1"]
            state[f"{name}.weight"] = module.weight.detach()
    return state
