"""What training from random weights depends on: the duration flow order, VITS's initialisation,
the decoder's weight norm, the MMS vocabulary in --init_config."""

import json

import torch
from helpers import ROOT
from transformers import VitsConfig, VitsModel

from kurdish_tts.vits.duration import decode_durations, encode_durations, stochastic_duration_nll, text_condition
from kurdish_tts.vits.weights import add_decoder_weight_norm, initialize_like_vits, plain_state_dict, train_every_token

SMALL = {"vocab_size": 36, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "ffn_dim": 64,
         "flow_size": 16, "upsample_initial_channel": 32, "use_stochastic_duration_prediction": True,
         "duration_predictor_filter_channels": 32, "prior_encoder_num_wavenet_layers": 2,
         "posterior_encoder_num_wavenet_layers": 2, "layerdrop": 0.0}


def small_model(seed: int = 0, vits_init: bool = True) -> VitsModel:
    torch.manual_seed(seed)
    model = VitsModel(VitsConfig(**SMALL))
    if vits_init:
        initialize_like_vits(model)
    return model


def test_synthesis_reads_back_the_durations_training_encodes():
    """Inverting the training direction must give back channel 0, the log-duration (with the
    transformers training branch's order it gives back the auxiliary channel instead)."""
    model = small_model().eval()
    predictor = model.duration_predictor
    with torch.no_grad():
        for flow in predictor.flows[1:]:  # trained weights are not zero: make every flow do something
            flow.conv_proj.weight.normal_(0, 0.3)
            flow.conv_proj.bias.normal_(0, 0.3)
        predictor.flows[0].translate.normal_()
        mask = torch.ones(2, 1, 7)
        condition = text_condition(predictor, torch.randn(2, 32, 7), mask, None)
        log_durations, auxiliary = torch.randn(2, 1, 7), torch.randn(2, 1, 7)
        latents, _ = encode_durations(predictor, condition, mask, log_durations, auxiliary)
        decoded = decode_durations(predictor, condition, mask, latents)
    assert torch.allclose(decoded, log_durations, atol=1e-4)
    assert not torch.allclose(decoded, auxiliary, atol=1e-1)


def test_duration_predictor_learns_durations_that_synthesis_speaks():
    """Fit the stochastic predictor to fixed durations; sampled at synthesis they come out near them."""
    model = small_model(1)
    predictor = model.duration_predictor
    torch.manual_seed(1)
    hidden = torch.randn(4, 32, 9)
    mask = torch.ones(4, 1, 9)
    target = torch.randint(2, 12, (4, 1, 9)).float()
    optimizer = torch.optim.Adam(predictor.parameters(), 1e-2)
    for _ in range(150):
        loss = stochastic_duration_nll(predictor, hidden, mask, target).mean() / 9
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predictor.eval()
    with torch.no_grad():
        condition = text_condition(predictor, hidden, mask, None)
        log_durations = decode_durations(predictor, condition, mask, torch.zeros(4, 2, 9))
    predicted = torch.exp(log_durations)
    assert loss.item() < 1.5
    assert abs(predicted.sum() / target.sum() - 1) < 0.2  # total length within 20 %
    assert torch.corrcoef(torch.stack([predicted.flatten(), target.flatten()]))[0, 1] > 0.8


def test_vits_initialisation_starts_where_vits_starts():
    torch.manual_seed(0)
    kaiming = VitsModel(VitsConfig(**SMALL))
    ours = small_model()
    latents = torch.randn(2, 16, 40)
    mask = torch.ones(2, 1, 40)
    with torch.no_grad():
        assert torch.allclose(ours.flow(latents, mask), latents)  # the flow starts as the identity
        assert not torch.allclose(kaiming.flow(latents, mask), latents, atol=1e-2)
        clipped = [float((m.decoder(latents).abs() > 0.99).float().mean()) for m in (kaiming, ours)]
    assert clipped[1] < 0.01 < clipped[0]  # transformers' init drives tanh into its ceiling
    embedding = ours.text_encoder.embed_tokens.weight
    assert abs(float(embedding.detach().std()) - 32**-0.5) < 0.05


def test_decoder_weight_norm_trains_and_saves_as_a_plain_model(tmp_path):
    model = small_model().eval()
    latents = torch.randn(1, 16, 20)
    with torch.no_grad():
        before = model.decoder(latents)
    add_decoder_weight_norm(model)
    train_every_token(model)
    names = [n for n, _ in model.named_parameters()]
    assert any(n.startswith("decoder.upsampler.0.parametrizations.weight.original0") for n in names)
    with torch.no_grad():
        assert torch.allclose(model.decoder(latents), before, atol=1e-5)
    model.save_pretrained(tmp_path, state_dict=plain_state_dict(model))
    plain = VitsModel.from_pretrained(tmp_path).eval()
    assert set(plain.state_dict()) == set(small_model().state_dict())
    with torch.no_grad():
        assert torch.allclose(plain.decoder(latents), before, atol=1e-5)


def test_token_zero_learns():
    """In the MMS vocabulary id 0 is the letter n and the blank: its embedding must train."""
    model = small_model()
    train_every_token(model)
    out = model.text_encoder(input_ids=torch.tensor([[0, 5, 0, 7, 0]]), padding_mask=torch.ones(1, 5, 1),
                             attention_mask=torch.ones(1, 5, dtype=torch.long))
    out.last_hidden_state.sum().backward()
    assert model.text_encoder.embed_tokens.weight.grad[0].abs().sum() > 0


def test_init_config_with_the_mms_vocabulary(tmp_path, capsys):
    """A config naming "vocabulary": "mms" trains with MMS Kurmanji's ids (n at 0) and saves that tokenizer."""
    import train_vits
    from kurdish_tts.corpus.audio import write_wav
    from kurdish_tts.samples.signals import speech_like

    data = tmp_path / "data"
    (data / "wavs").mkdir(parents=True)
    lines = []
    for i in range(4):
        write_wav(data / "wavs" / f"c{i}.wav", speech_like(1.2, seed=i, pad=0.0), 16000)
        lines.append(f"c{i}.wav|ez nan dixwim {i % 2 and 'û av' or ''}".strip())
    (data / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = json.loads((ROOT / "configs/tiny.json").read_text())
    config.update(vocabulary="mms", vocab_size=36)
    (tmp_path / "config.json").write_text(json.dumps(config))
    code = train_vits.main(["--data_dir", str(data), "--init_config", str(tmp_path / "config.json"),
                            "--output_dir", str(tmp_path / "model"), "--checkpoint_dir", str(tmp_path / "ckpt"),
                            "--batch_size", "2", "--gradient_accumulation_steps", "1", "--max_steps", "2",
                            "--discriminator_warmup_steps", "0", "--eval_steps", "100", "--save_steps", "100"])
    assert code == 0
    vocab = json.loads((tmp_path / "model" / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["n"] == 0 and vocab["<unk>"] == 35
    config["vocabulary"] = "klingon"
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert train_vits.main(["--data_dir", str(data), "--init_config", str(tmp_path / "config.json"), "--output_dir",
                            str(tmp_path / "m2"), "--checkpoint_dir", str(tmp_path / "c2"), "--max_steps", "1"]) == 1
    assert "vocabulary 'klingon' is unknown" in capsys.readouterr().err
