"""What deleting an entity removes, and what stands in its way (our extension, DELETE).

An entity's own subtree goes with it only when the caller asks (``cascade``): a registered
model's versions, their artifacts and aliases; a version's artifacts and aliases; a serving
environment's inference services and their serve models; an inference service's serve models;
an experiment's runs; a run's artifacts and metric history. Without ``cascade`` any of them
refuses the delete with a 409 naming them. References from outside the subtree refuse it
either way: an inference service or serve model pointing at a model or version, predictions
(artifacts whose ``dataset_id`` property names a dataset) pointing at a dataset. An artifact
also linked to a context outside the subtree is not removed, only unlinked.

Every row the plan reads under the entity is locked (``FOR UPDATE`` on PostgreSQL) after the
entity itself, and every write that adds a child or a reference locks its parent or target
``FOR SHARE`` (:meth:`~model_registry.server.store.Tx.lock`), so a delete racing a create
either sees the child (and refuses, or removes it too) or makes the create a 404: never an
orphan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from model_registry.server.aliases import alias_change
from model_registry.server.entities import (
    EXPERIMENT_RUN,
    INFERENCE_SERVICE,
    KINDS,
    MODEL_VERSION,
    SERVE_MODEL,
    EntityKind,
)
from model_registry.server.errors import Conflict
from model_registry.server.store import Tx
from model_registry.server.store.queries import Change

__all__ = ["DeletePlan", "InTheWay", "plan_delete", "refusal"]

_SHOWN_IDS = 10


class InTheWay(Conflict):
    """A delete refused because of what depends on the entity (409, FAILED_PRECONDITION)."""

    grpc_code = "FAILED_PRECONDITION"


@dataclass
class DeletePlan:
    """The rows one delete removes (the entity's subtree) and what refuses it.

    Attributes:
        contexts: Context ids to delete (the entity's, its descendants').
        executions: Serve model ids to delete.
        artifacts: Artifact ids to delete (linked only inside the subtree, or the entity).
        runs: Experiment run ids whose metric history goes.
        children: What the subtree holds besides the entity (``cascade`` needed), described.
        references: What points at the subtree from outside (always refuses), described.
        aliases: ``(alias, version id, model id)`` of the aliases that go with the versions.
    """

    contexts: list[int] = field(default_factory=list)
    executions: list[int] = field(default_factory=list)
    artifacts: list[int] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    aliases: list[tuple[str, int, int]] = field(default_factory=list)

    async def execute(self, tx: Tx, desc: EntityKind, ident: int) -> None:
        """Delete every row of the plan (properties, links and aliases cascade), and record a
        ``deleted`` change (an event) for each entity, the root ``desc`` ``ident`` last."""
        removed = [
            (KINDS[kind], artifact) for artifact, kind in await tx.artifact_kinds(self.artifacts)
        ]
        removed += [(SERVE_MODEL, serve) for serve in self.executions]
        removed += [
            (KINDS[kind], context) for context, kind in await tx.context_kinds(self.contexts)
        ]
        await tx.delete_rows("artifacts", self.artifacts)
        await tx.delete_metric_history(self.runs)
        await tx.delete_rows("executions", self.executions)
        await tx.delete_rows("contexts", self.contexts)
        for alias, version, model in self.aliases:  # removed by the foreign keys' cascade
            tx.changes.append(alias_change("deleted", model, alias, version))
        root = [(k, i) for k, i in removed if i == ident and k is desc]
        others = [(k, i) for k, i in removed if not (i == ident and k is desc)]
        for kind, entity_id in [*others, *(root or [(desc, ident)])]:
            tx.changes.append(Change(kind, "deleted", entity_id))


def _some(label: str, ids: Sequence[int] | Sequence[str], plural: str | None = None) -> str:
    """``2 model versions (6, 7)``: how many, and the first few ids or names."""
    count = len(ids)
    noun = label if count == 1 else plural or f"{label}s"
    shown = ", ".join(str(i) for i in list(ids)[:_SHOWN_IDS])
    more = ", ..." if count > _SHOWN_IDS else ""
    return f"{count} {noun} ({shown}{more})"


async def plan_delete(tx: Tx, desc: EntityKind, ident: int) -> DeletePlan:
    """Read (and lock) what deleting entity ``ident`` of kind ``desc`` would remove.

    The entity itself must already be locked exclusively by the caller.
    """
    plan = DeletePlan()
    model_ids: list[int] = []
    version_ids: list[int] = []
    if desc.is_artifact:
        plan.artifacts = [ident]
    elif desc is SERVE_MODEL:
        plan.executions = [ident]
    else:
        plan.contexts = [ident]
        kind = desc.kind
        if kind == "registered-model":
            model_ids = [ident]
            version_ids = await tx.lock_children(MODEL_VERSION, [ident])
            if version_ids:
                plan.children.append(_some("model version", version_ids))
            plan.contexts += version_ids
        elif kind == "model-version":
            version_ids = [ident]
        elif kind == "serving-environment":
            services = await tx.lock_children(INFERENCE_SERVICE, [ident])
            plan.executions = await tx.lock_children(SERVE_MODEL, services)
            if services:
                plan.children.append(_some("inference service", services))
            plan.contexts += services
        elif kind == "inference-service":
            plan.executions = await tx.lock_children(SERVE_MODEL, [ident])
        elif kind == "experiment":
            plan.runs = await tx.lock_children(EXPERIMENT_RUN, [ident])
            if plan.runs:
                plan.children.append(_some("experiment run", plan.runs))
            plan.contexts += plan.runs
        elif kind == "experiment-run":
            plan.runs = [ident]
        if plan.executions:
            plan.children.append(_some("serve model", plan.executions))
        plan.aliases = await tx.aliases_on(version_ids)
        if plan.aliases:
            names = sorted({alias for alias, _, _ in plan.aliases})
            plan.children.append(_some("alias", names, "aliases"))
        history = await tx.count_metric_history(plan.runs)
        if history:
            noun = "metric history entry" if history == 1 else "metric history entries"
            plan.children.append(f"{history} {noun}")
        linked = await tx.linked_artifact_ids(plan.contexts)
        if linked:
            plan.children.append(_some("artifact", linked))
            shared = await tx.linked_elsewhere(linked, plan.contexts)
            plan.artifacts = [a for a in linked if a not in shared]
    own_serves = set(plan.executions)
    for ref_kind, ref_id in await tx.serving_references(model_ids, version_ids):
        if ref_kind == SERVE_MODEL.kind and ref_id in own_serves:
            continue
        plan.references.append(f"{KINDS[ref_kind].label} {ref_id}")
    removed = set(plan.artifacts)
    predictions = [a for a in await tx.dataset_references(plan.artifacts) if a not in removed]
    if predictions:
        plan.references.append(_some("prediction", predictions))
    return plan


def refusal(desc: EntityKind, ident: int, plan: DeletePlan, *, cascade: bool) -> InTheWay | None:
    """The 409 a delete ends with, or None when nothing is in its way."""
    what = f"{desc.label} {ident}"
    if plan.references:
        return InTheWay(
            f"cannot delete {what}: it is referenced by {', '.join(plan.references)} "
            "(outside what it owns, so cascade does not remove them): delete or change those "
            "first"
        )
    if plan.children and not cascade:
        return InTheWay(
            f"cannot delete {what}: it has {', '.join(plan.children)}; delete them first, or "
            "delete with cascade=true to remove them with it"
        )
    return None
