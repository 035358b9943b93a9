"""The example repo renders, is up to date, and validates."""

from pathlib import Path

from conftest import CRDS, run_cli


def test_example_is_rendered_and_valid(example_repo: Path) -> None:
    check = run_cli("render", "--check", "--root", example_repo)
    assert check.exit_code == 0, check.stdout + check.stderr
    valid = run_cli("validate", "--crds", CRDS, "--root", example_repo)
    assert valid.exit_code == 0, valid.stderr
    # every object kustomize builds, nothing else (kustomization.yaml files are not objects)
    from servespec.render import read_tree
    import yaml

    objects = sum(1 for path, data in read_tree(example_repo / "rendered").items()
                  if not path.endswith("kustomization.yaml") for _ in yaml.safe_load_all(data))
    assert valid.stdout == f"{objects} objects valid\n"
