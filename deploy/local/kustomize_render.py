"""Render a Kustomize directory offline (no kubectl/kustomize binary on the dev/CI machines).

    uv run --frozen python deploy/local/kustomize_render.py deploy/k8s/overlays/production > out.yaml

Implements the subset of Kustomize that deploy/k8s uses, and refuses anything else rather than
silently rendering it wrong:
  resources (files and directories holding a kustomization), namespace, labels (pairs, on
  metadata.labels only: includeSelectors/includeTemplates are rejected), images
  (name -> newName/newTag/digest), patches (strategic-merge patches from path or inline
  patch, optionally with a target: kind / name (regex) / namespace / labelSelector).
Strategic merge here: maps merge recursively, `key: null` deletes, lists of maps merge by
their Kubernetes merge key (name, or containerPort / mountPath / ip where that is the key),
other lists are replaced, `$patch: delete` removes a list item.
A patch that matches no resource is an error, as is a duplicate resource id.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PriorityClass", "StorageClass", "PersistentVolume", "IngressClass",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
MERGE_KEYS = ("name", "mountPath", "containerPort", "ip", "devicePath", "topologyKey")


class RenderError(Exception):
    pass


def load_docs(path: Path) -> list[dict]:
    with path.open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def rid(doc: dict) -> tuple:
    meta = doc.get("metadata", {})
    return doc.get("apiVersion"), doc.get("kind"), meta.get("namespace"), meta.get("name")


def merge_key(items: list) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def smp(base, patch):
    """Strategic-merge `patch` into `base` (returns a new object)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = smp(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        key = merge_key(base + [p for p in patch if isinstance(p, dict)])
        if key is None:
            return copy.deepcopy(patch)
        out = copy.deepcopy(base)
        for item in patch:
            match = next((i for i, b in enumerate(out) if b.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if match is not None:
                    out.pop(match)
            elif match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = smp(out[match], item)
        return out
    return copy.deepcopy(patch)


def selector_matches(labels: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip()) != v.strip().lstrip("="):
                return False
        elif labels.get(term) is None:
            return False
    return True


def target_matches(doc: dict, target: dict) -> bool:
    meta = doc.get("metadata", {})
    for field in target:
        if field not in {"kind", "name", "namespace", "labelSelector", "group", "version"}:
            raise RenderError(f"unsupported patch target field {field!r}")
    if "kind" in target and not re.fullmatch(target["kind"], doc.get("kind", "")):
        return False
    if "name" in target and not re.fullmatch(target["name"], meta.get("name", "")):
        return False
    if "namespace" in target and not re.fullmatch(target["namespace"], meta.get("namespace") or ""):
        return False
    group, _, version = doc.get("apiVersion", "").rpartition("/")
    if "group" in target and target["group"] != group:
        return False
    if "version" in target and target["version"] != version:
        return False
    if "labelSelector" in target and not selector_matches(meta.get("labels", {}), target["labelSelector"]):
        return False
    return True


def apply_images(doc: dict, images: list[dict]) -> None:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
        "template", {}).get("spec") or (spec if doc.get("kind") == "Pod" else None)
    if not pod:
        return
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        ref = container.get("image", "").split("@", 1)[0]
        name, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, None)
        for rule in images:
            if rule["name"] != name:
                continue
            new = rule.get("newName", name)
            if "digest" in rule:
                container["image"] = f"{new}@{rule['digest']}"
            else:
                new_tag = rule.get("newTag", tag)
                container["image"] = f"{new}:{new_tag}" if new_tag else new


def render(directory: Path) -> list[dict]:
    kfile = next((directory / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                  if (directory / n).is_file()), None)
    if kfile is None:
        raise RenderError(f"no kustomization in {directory}")
    (kust,) = load_docs(kfile)
    unsupported = set(kust) - SUPPORTED
    if unsupported:
        raise RenderError(f"{kfile}: unsupported fields {sorted(unsupported)} (extend kustomize_render.py)")

    docs: list[dict] = []
    for entry in kust.get("resources", []):
        path = (directory / entry).resolve()
        docs.extend(render(path) if path.is_dir() else load_docs(path))

    for entry in kust.get("patches", []):
        if "path" in entry:
            patch_docs = load_docs((directory / entry["path"]).resolve())
        elif "patch" in entry:
            patch_docs = [d for d in yaml.safe_load_all(entry["patch"]) if d]
        else:
            raise RenderError(f"{kfile}: patch without path/patch")
        if set(entry) - {"path", "patch", "target"}:
            raise RenderError(f"{kfile}: unsupported patch options {sorted(set(entry) - {'path', 'patch', 'target'})}")
        for patch in patch_docs:
            if not isinstance(patch, dict) or "kind" not in patch:
                raise RenderError(f"{kfile}: only strategic-merge patches are supported")
            if "target" in entry:
                target = entry["target"]
                body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
                body["metadata"] = {k: v for k, v in patch.get("metadata", {}).items() if k != "name"}
                if not body["metadata"]:
                    del body["metadata"]
            else:
                target = {"kind": re.escape(patch["kind"]), "name": re.escape(patch["metadata"]["name"])}
                body = patch
            hits = [i for i, d in enumerate(docs) if target_matches(d, target)]
            if not hits:
                raise RenderError(f"{kfile}: patch for {target} matches no resource")
            for i in hits:
                docs[i] = smp(docs[i], body)

    if "namespace" in kust:
        for doc in docs:
            if doc.get("kind") not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kust["namespace"]

    for label_set in kust.get("labels", []):
        if label_set.get("includeSelectors") or label_set.get("includeTemplates"):
            raise RenderError(f"{kfile}: labels with includeSelectors/includeTemplates are not supported")
        for doc in docs:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(label_set.get("pairs", {}))

    if kust.get("images"):
        for doc in docs:
            apply_images(doc, kust["images"])

    seen: set[tuple] = set()
    for doc in docs:
        if rid(doc) in seen:
            raise RenderError(f"duplicate resource {rid(doc)}")
        seen.add(rid(doc))
    return docs


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        docs = render(Path(argv[1]).resolve())
    except (RenderError, OSError, yaml.YAMLError) as exc:
        print(f"kustomize_render: {exc}", file=sys.stderr)
        return 1
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
