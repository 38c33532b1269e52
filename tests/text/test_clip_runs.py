"""CLIP and unCLIP runs end to end on built-in faces: they train, resume, sample from prompts and pictures, and their
embeddings mean what they should (the margins below come from measured runs of these exact settings)."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import unnoise
from unnoise.cli import main
from unnoise.config import validate, with_family
from unnoise.data import open_dataset
from unnoise.errors import UserError
from unnoise.metrics.clip_eval import clip_eval
from unnoise.metrics.clip_judge import load_clip_judge
from unnoise.train.clip_conditions import clip_training_conditions
from unnoise.train.conditions import training_conditions


def clip_config(tiny, **changes):
    train = dict(steps=200, batch_size=64, lr=3e-3, warmup_steps=10, lr_schedule="cosine", checkpoint_every=0)
    train |= changes
    config = with_family(
        tiny(**train), "clip", {"train.steps": train["steps"], "train.warmup_steps": train["warmup_steps"]}
    )
    config.data.source = "builtin:1024"
    config.model.clip_dim = 32
    return config


def test_a_clip_sees_four_times_its_presets_images_whatever_the_presets_batch_size():
    celeba32 = unnoise.preset("celeba32")
    clip = with_family(celeba32, "clip")
    images = celeba32.train.steps * celeba32.train.batch_size
    assert clip.train.batch_size == 128
    assert clip.train.steps * 128 == 4 * images
    assert clip.train.warmup_steps * 128 == 4 * celeba32.train.warmup_steps * celeba32.train.batch_size
    halved = unnoise.override(celeba32, {"train.batch_size": celeba32.train.batch_size // 2})
    assert with_family(halved, "clip").train.steps * 2 == clip.train.steps
    assert with_family(celeba32, "clip", {"train.batch_size": 64}).train.steps == 2 * clip.train.steps
    given = with_family(celeba32, "clip", {"train.steps": 7, "train.warmup_steps": 1})
    assert (given.train.steps, given.train.warmup_steps) == (7, 1)
    assert with_family(celeba32, "vae").train.steps == celeba32.train.steps


def unclip_config(tiny, clip_run, **changes):
    config = tiny(**{**dict(steps=300, batch_size=16, lr=3e-3, warmup_steps=10, checkpoint_every=0), **changes})
    config.data.source = "builtin:1024"
    config.diffusion.objective = "flow"
    config.condition.kind = "clip"
    config.condition.clip_run = str(clip_run)
    return config


@pytest.fixture(scope="module")
def clip_run(text_extra, tmp_path_factory):
    """A CLIP on 1,024 built-in faces at 16x16 (~10 s)."""
    from tests.conftest import tiny_config

    return unnoise.train(clip_config(tiny_config), out=tmp_path_factory.mktemp("runs") / "clip", progress=False)


@pytest.fixture(scope="module")
def unclip_run(clip_run, tmp_path_factory):
    """An unCLIP run (flow decoder + prior) on that CLIP (~10 s)."""
    from tests.conftest import tiny_config

    out = tmp_path_factory.mktemp("runs") / "unclip"
    return unnoise.train(unclip_config(tiny_config, clip_run.path), out=out, progress=False)


def logged_losses(run):
    with open(run.path / "log.csv") as file:
        return [float(row["loss"]) for row in csv.DictReader(file)]


def test_clip_learns_a_joint_space_retrieval_and_zero_shot_attributes(clip_run):
    losses = logged_losses(clip_run)
    # From about log(64) = 4.2 to about 3 (measured): built-in faces share captions, so many pairs cannot be told apart.
    assert losses[-1] < losses[0] - 1
    result = clip_eval(clip_run, "builtin:400:1", split="train", n=400, progress=False)  # faces it never saw
    retrieval = result["retrieval"]
    # Measured 0.41 and 0.43, where chance is about 10 x 0.004.
    assert retrieval["image_to_text_r@10"] > 0.2 and retrieval["text_to_image_r@10"] > 0.2
    # Zero-shot (each attribute's caption against "a photo of a person"): measured 0.89 on average against a majority
    # guess of 0.66 over the built-in faces' eight attributes.
    zero_shot = [row["zero_shot_vs_neutral"] for row in result["zero_shot"]]
    majority = [row["majority"] for row in result["zero_shot"]]
    assert sum(zero_shot) / len(zero_shot) > sum(majority) / len(majority) + 0.1


def test_train_clip_offers_only_the_settings_a_clip_reads(capsys):
    with pytest.raises(SystemExit):
        main(["train-clip", "--help"])
    shown = capsys.readouterr().out
    for flag in ("--clip-dim", "--clip-text-layers", "--lr", "--image-size", "--captions-per-image", "--sample-every"):
        assert flag in shown
    for flag in ("--objective", "--timesteps", "--sample-count", "--eval-every", "--default-sampler", "--drop-prob"):
        assert flag not in shown
    assert main(["train-clip", "--objective", "edm", "--out", "x"]) == 2
    assert capsys.readouterr().err.startswith(
        "unnoise train-clip: error: unrecognized arguments: --objective edm (train-clip takes only the settings"
    )


def test_a_clip_run_draws_no_images_and_says_what_to_do(clip_run, capsys):
    assert main(["sample", str(clip_run.path), "--n", "2"]) == 2
    assert "clip-eval" in capsys.readouterr().err
    assert main(["train-clip", "--model", "gan", "--out", "x"]) == 2
    assert "train-clip trains model clip" in capsys.readouterr().err


def prior_loss(run, dataset, draws_seed=0):
    """The prior's flow-matching loss on 256 fixed images, captions and draws."""
    conditions = training_conditions(run.config, dataset, torch.device("cpu"), progress=False)
    conditions = clip_training_conditions(run.config, dataset, run.model.clip, conditions, torch.device("cpu"))
    generator = torch.Generator().manual_seed(draws_seed)
    condition = conditions.draw(torch.arange(256), generator)
    target, t = condition.pooled, torch.rand(256, generator=generator)
    noise = torch.randn(target.shape, generator=generator)
    from unnoise.models.unclip import caption_condition

    z = (1 - t[:, None]) * target + t[:, None] * noise
    with torch.no_grad():
        predicted = run.model.prior(z, 1000 * t, caption_condition(condition.caption))
    return (predicted - (noise - target)).square().mean().item()


def test_unclip_trains_its_prior_and_decoder_together(unclip_run, clip_run):
    losses = logged_losses(unclip_run)
    assert losses[-1] < 0.6 * losses[0]
    # The JSON log shows the two parts apart; each falls, and they add up to the logged loss.
    rows = [json.loads(line) for line in (unclip_run.path / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["prior_loss"] < 0.7 * rows[0]["prior_loss"]
    assert rows[-1]["decoder_loss"] < 0.7 * rows[0]["decoder_loss"]
    assert all(row["decoder_loss"] + row["prior_loss"] == pytest.approx(row["loss"], abs=1e-4) for row in rows)
    dataset = open_dataset("builtin:1024", 16, progress=False)
    untrained = unnoise.load_run(unclip_run.path, device="cpu")
    torch.manual_seed(0)
    for module in (untrained.model.prior,):  # the same architecture, fresh weights
        for parameter in module.parameters():
            torch.nn.init.normal_(parameter, std=0.02)
    assert prior_loss(unclip_run, dataset) < 0.7 * prior_loss(untrained, dataset)
    # The CLIP inside the run is the CLIP run's, unchanged by training.
    inside = unclip_run.model.clip.state_dict()
    assert all(torch.equal(inside[name], value) for name, value in clip_run.model.state_dict().items())


def test_prompts_pictures_and_walks_mean_what_they_say(unclip_run, clip_run):
    judge = load_clip_judge(clip_run)
    held_out = open_dataset("builtin:8:5", 16, progress=False).images
    # Variations of a picture land near it in CLIP space; plain samples do not (measured 0.91 against 0.49).
    variations = unclip_run.variations(held_out, n=32, seed=0)
    samples = unclip_run.sample(32, seed=1)
    source = judge.embed_images(held_out)[torch.arange(32) % 8]
    near = (judge.embed_images(variations) * source).sum(-1).mean()
    far = (judge.embed_images(samples) * source).sum(-1).mean()
    assert near > far + 0.2
    # Each prompt's images are closer to it than to the other prompt (prior, then decoder).
    prompts = ["a photo of a person with red hair", "a photo of a person with blond hair"]
    texts = judge.embed_texts(prompts)
    for index, prompt in enumerate(prompts):
        drawn = judge.embed_images(unclip_run.sample(16, prompt=prompt, seed=0, guidance=3))
        closeness = (drawn @ texts.T).mean(0)
        assert closeness[index] > closeness[1 - index]
    # The prior's guidance is a setting of its own: it changes what a prompt draws, and nothing else takes it.
    guided = unclip_run.sample(4, prompt=prompt, seed=0, prior_guidance=4)
    assert not torch.equal(guided, unclip_run.sample(4, prompt=prompt, seed=0, prior_guidance=1))
    assert torch.equal(
        unclip_run.sample(4, prompt=prompt, seed=0), unclip_run.sample(4, prompt=prompt, seed=0, prior_guidance=2)
    )
    with pytest.raises(UserError, match="give a prompt too"):
        unclip_run.sample(2, prior_guidance=2)
    # The editing tools take prompts too: at strength 1 image-to-image is plain sampling with the same seed.
    prompt = prompts[0]
    edited = unclip_run.edit(held_out[:1], 1.0, prompt=prompt, n=2, seed=3)
    assert torch.equal(edited, unclip_run.sample(2, prompt=prompt, seed=3))
    # A walk between two pictures starts at the first one's variation with the same seed, ends at the second's.
    walk = unclip_run.embedding_walk(held_out[:2], n=3, seed=4)
    assert torch.equal(walk[0], unclip_run.variations(held_out[:1], n=1, seed=4)[0])
    assert torch.equal(walk[-1], unclip_run.variations(held_out[1:2], n=1, seed=4)[0])


def test_unclip_resumes_exactly_without_its_clip_run_folder(tiny, clip_run, tmp_path):
    clip_copy = tmp_path / "clip"
    shutil.copytree(clip_run.path, clip_copy)
    unnoise.train(
        unclip_config(tiny, clip_copy, steps=6, checkpoint_every=3), out=tmp_path / "straight", progress=False
    )
    unnoise.train(unclip_config(tiny, clip_copy, steps=3, checkpoint_every=3), out=tmp_path / "resumed", progress=False)
    shutil.rmtree(clip_copy)  # the CLIP is in the run's own weights now
    unnoise.train(unclip_config(tiny, clip_copy, steps=6, checkpoint_every=3), out=tmp_path / "resumed",
                  resume=True, progress=False)  # fmt: skip
    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert any(key.startswith("prior.") for key in straight) and any(key.startswith("clip.") for key in straight)
    recorded = json.loads((tmp_path / "resumed" / "config.json").read_text())["condition"]["clip_network"]
    assert recorded["model"]["clip_dim"] == 32 and recorded["image_size"] == 16


def test_unclip_refuses_what_it_cannot_use(tiny, unclip_run, clip_run, tmp_path, capsys):
    config = unclip_config(tiny, "")
    with pytest.raises(UserError, match="clip_run"):
        unnoise.train(config, out=tmp_path / "no-clip", progress=False)
    diffusion = unnoise.train(tiny(steps=2, checkpoint_every=0), out=tmp_path / "plain", progress=False)
    with pytest.raises(UserError, match="not a CLIP run"):
        unnoise.train(unclip_config(tiny, diffusion.path), out=tmp_path / "wrong", progress=False)
    with pytest.raises(UserError, match="unCLIP run"):
        diffusion.variations(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(UserError, match="prior_guidance guides the prior of an unCLIP run"):
        diffusion.sample(2, prior_guidance=2)
    with pytest.raises(UserError, match="negative_prompt"):
        unclip_run.sample(2, prompt="a smiling person", negative_prompt="a bald man")
    picture = tmp_path / "face.png"
    from PIL import Image

    Image.new("RGB", (30, 20), (200, 40, 40)).save(picture)
    assert main(["variations", str(picture), "--run", str(diffusion.path), "--out", str(tmp_path / "v.png")]) == 2
    assert "--condition clip" in capsys.readouterr().err
    out = tmp_path / "variations.png"
    assert main(["variations", str(picture), "--run", str(unclip_run.path), "--n", "3", "--out", str(out)]) == 0
    assert out.exists() and "3 variations" in capsys.readouterr().out


def test_faithfulness_scores_each_scale_with_the_given_clip(unclip_run, clip_run):
    from unnoise.metrics.classifier import train_classifier
    from unnoise.metrics.faithfulness import faithfulness

    torch.manual_seed(0)
    judge = train_classifier(open_dataset("builtin:256", 16, progress=False), steps=5, width=8, progress=False)
    result = faithfulness(unclip_run, judge, scales=(0, 3), per_request=2, clip=clip_run, steps=4, progress=False)
    clip = load_clip_judge(clip_run)
    for row in result["rows"]:
        images = torch.cat(result["pictures"][row["guidance"]])
        prompts = [prompt for prompt in result["requests"] for _ in range(2)]  # unCLIP is asked in captions
        assert row["clip_score"] == pytest.approx(clip.score(images, prompts), abs=1e-4)


def test_prompts_of_a_captioned_run_are_judged_by_clip_score_without_a_classifier(
    unclip_run, clip_run, tmp_path, capsys
):
    from unnoise.metrics.faithfulness import check_judges, faithfulness, markdown_table, write_faithfulness

    prompts = ["a smiling face", "a face with eyeglasses"]
    result = faithfulness(unclip_run, prompts=prompts, clip=clip_run, scales=(0, 3), per_request=3, steps=4)
    clip = load_clip_judge(clip_run)
    assert result["requests"] == prompts and result["classifier_accuracy"] is None
    for row in result["rows"]:
        assert "accuracy" not in row and list(row["per_request"]) == prompts
        drawn = result["pictures"][row["guidance"]]
        for prompt, images in zip(prompts, drawn):  # each prompt's own score, and the row's over all of them
            assert row["per_request"][prompt] == pytest.approx(clip.score(images, [prompt] * 3), abs=1e-4)
        assert row["clip_score"] == pytest.approx(sum(row["per_request"].values()) / 2, abs=1e-4)
    assert markdown_table(result).startswith("| guidance | CLIP score | images | seconds |")
    assert write_faithfulness(result, tmp_path / "judged", 16)["curve"].exists()
    argv = ["eval", str(unclip_run.path), "--faithfulness", "--clip", str(clip_run.path), "--prompt", prompts[0],
            "--guidance-scales", "0,3", "--per-request", "2", "--steps", "3", "--out", str(tmp_path / "cli"),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0 and "| 3 | " in capsys.readouterr().out
    refusals = [
        ((None, None, None, None, True), "faithfulness needs a judge: classifier"),
        (("judge", "clip", ["a"], None, True), "give prompts with clip, or requests with classifier, not both"),
        ((None, None, ["a"], None, True), "judging prompts needs clip"),
        ((None, "clip", ["a"], None, False), "this run was trained on attributes: ask it requests"),
        ((None, "clip", ["a", " "], None, True), "prompts must be a list of non-empty texts"),
        ((None, "clip", "a cat", None, True), "prompts must be a list of non-empty texts"),  # not 5 one-letter prompts
        ((None, "clip", ["a", "a"], None, True), "each prompt once"),
    ]
    for arguments, message in refusals:
        with pytest.raises(UserError, match=message):
            check_judges(*arguments)
    assert main(["eval", str(unclip_run.path), "--faithfulness", "--prompt", "a face"]) == 2
    assert "judging --prompt needs --clip" in capsys.readouterr().err


TINY_FLAGS = ["--data", "builtin:64", "--image-size", "16", "--base-channels", "8", "--channel-mult", "1,2",
              "--steps", "3", "--warmup-steps", "0", "--checkpoint-every", "3", "--device", "cpu",
              "--quiet"]  # fmt: skip


def one_and_two_processes(tmp_path, command: list[str]) -> dict[str, dict[str, torch.Tensor]]:
    """The weights of `unnoise COMMAND` trained by one process on batches of 8 and by torchrun's two on 4 each."""
    single = [sys.executable, "-m", "unnoise"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "unnoise"]
    weights = {}
    for name, launcher, batch in (("one", single, "8"), ("two", torchrun, "4")):
        out = tmp_path / name
        result = subprocess.run(
            [*launcher, *command, "--out", str(out), *TINY_FLAGS, "--batch-size", batch],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr
        weights[name] = load_file(str(out / "model.safetensors"))
    return weights


def test_a_clip_on_two_processes_learns_as_one_process_with_the_whole_batch(text_extra, tmp_path):
    """Each process's captions are told from every process's images: the same InfoNCE, and so the same weights."""
    weights = one_and_two_processes(tmp_path, ["train-clip", "--clip-dim", "16"])
    # Contrasting each process's own half instead moves the weights by ~1e-5 in these 3 steps.
    assert all(torch.allclose(weights["one"][key], weights["two"][key], atol=1e-6) for key in weights["one"])
    with pytest.raises(UserError, match="leave train.accum at 1"):
        validate(with_family(unnoise.preset("demo"), "clip", {"train.accum": 2}))


def test_an_unclip_run_on_two_processes_learns_as_one_process_with_the_whole_batch(clip_run, tmp_path):
    """Decoder and prior train in one forward pass under DDP: the same steps as one process on the whole batch."""
    weights = one_and_two_processes(
        tmp_path, ["train", "--objective", "flow", "--condition", "clip", "--clip-run", str(clip_run.path)]
    )
    # Summation order differs between one process and two, and Adam's first steps, which scale each gradient by its
    # own size, magnify it where the zero-initialised prior's gradients are still tiny: up to ~3e-5 there, where a
    # prior trained on one process's half of the batch differs by 5e-3 to 1e-2 (measured).
    for key in weights["one"]:
        tolerance = 1e-4 if key.startswith("prior.") else 1e-5
        assert torch.allclose(weights["one"][key], weights["two"][key], atol=tolerance), key


def test_train_clip_and_clip_eval_from_the_command_line(text_extra, tmp_path, capsys):
    out = tmp_path / "clip"
    tiny = ["--data", "builtin:256", "--image-size", "16", "--base-channels", "8", "--channel-mult", "1,2",
            "--batch-size", "32", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(["train-clip", *tiny, "--steps", "4", "--log-every", "2", "--out", str(out)]) == 0
    assert "loss curve" in capsys.readouterr().out and (out / "loss.png").exists()
    assert main(["train-clip", *tiny, "--steps", "6", "--log-every", "2", "--out", str(out), "--resume"]) == 0
    assert unnoise.load_run(out).step == 6
    table = tmp_path / "clip-eval"
    assert main(["clip-eval", str(out), "--data", "builtin:64:1", "--split", "train", "--n", "64", "--out", str(table),
                 "--quiet"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "| image -> text |" in printed and "| Blue_Background |" in printed
    assert json.loads((table / "clip_eval.json").read_text())["n"] == 64
    assert (table / "clip_eval.md").read_text().startswith("CLIP ")
    assert main(["clip-eval", str(out), "--data", "builtin:1:1", "--quiet"]) == 2  # default split: all of it
    assert "at least 2 images" in capsys.readouterr().err
    assert main(["clip-eval", str(out), "--data", "builtin:64:1", "--n", "1", "--quiet"]) == 2
    assert "--n must be a whole number of pairs, at least 2" in capsys.readouterr().err
