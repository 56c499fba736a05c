"""The in-memory vector index of cached questions, one per worker process.

Entries are grouped by partition (scope, intent and entities; see ``keys``) and a
lookup only searches its own partition, so most searches scan a handful of vectors.
A partition is an exact numpy scan while it is small; past ``HNSW_MIN`` entries it also
gets an HNSW graph (hnswlib), so one busy partition of 100,000 shared answers is still
searched in about a millisecond. Deleted entries are masked (numpy) and marked deleted
(HNSW), and their slots are reused.

Each worker's index follows the store's log of insertions and deletions (see
``store``), so every worker finds the same entries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

DIMENSIONS = 384
# Below this an exact scan is about as fast as a graph search (and needs no build);
# above it, a scan's cost grows with the partition while the graph's barely does.
HNSW_MIN = 1024
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 48


@dataclass(frozen=True)
class Neighbour:
    entry_id: str
    similarity: float


@dataclass
class _Partition:
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((8, DIMENSIONS), np.float32))
    ids: list[str | None] = field(default_factory=list)
    slots: dict[str, int] = field(default_factory=dict)
    free: list[int] = field(default_factory=list)
    graph: object | None = None  # hnswlib.Index once the partition is large

    @property
    def size(self) -> int:
        return len(self.slots)

    def add(self, entry_id: str, vector: np.ndarray) -> None:
        if entry_id in self.slots:
            return
        if self.free:
            slot = self.free.pop()
            self.ids[slot] = entry_id
        else:
            slot = len(self.ids)
            self.ids.append(entry_id)
            if slot >= len(self.vectors):
                grown = np.zeros((len(self.vectors) * 2, DIMENSIONS), np.float32)
                grown[: len(self.vectors)] = self.vectors
                self.vectors = grown
        self.vectors[slot] = vector
        self.slots[entry_id] = slot
        if self.graph is not None:
            self._graph_add(slot, vector)
        elif self.size >= HNSW_MIN:
            self._graph_build()

    def remove(self, entry_id: str) -> None:
        slot = self.slots.pop(entry_id, None)
        if slot is None:
            return
        self.ids[slot] = None
        self.vectors[slot] = 0.0
        self.free.append(slot)
        if self.graph is not None:
            self.graph.mark_deleted(slot)  # type: ignore[attr-defined]

    def search(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        if not self.slots:
            return []
        if self.graph is not None:
            return self._graph_search(vector, k)
        scores = self.vectors[: len(self.ids)] @ vector
        want = min(k + len(self.free), len(scores))
        # Only the best few are wanted: a partial selection, then a sort of those.
        best = np.argpartition(-scores, want - 1)[:want] if want < len(scores) else scores.argsort()
        top = best[np.argsort(-scores[best])]
        return [
            Neighbour(entry_id, float(scores[slot]))
            for slot in top
            if (entry_id := self.ids[slot]) is not None
        ][:k]

    def _graph_build(self) -> None:
        import hnswlib

        graph = hnswlib.Index(space="ip", dim=DIMENSIONS)
        graph.init_index(
            max_elements=max(2 * len(self.ids), HNSW_MIN),
            ef_construction=HNSW_EF_CONSTRUCTION,
            M=HNSW_M,
        )
        graph.set_ef(HNSW_EF_SEARCH)
        graph.set_num_threads(1)
        live = np.array(sorted(self.slots.values()), dtype=np.int64)
        graph.add_items(self.vectors[live], live)
        self.graph = graph

    def _graph_add(self, slot: int, vector: np.ndarray) -> None:
        graph = self.graph
        assert graph is not None
        if slot >= graph.get_max_elements():  # type: ignore[attr-defined]
            graph.resize_index(2 * graph.get_max_elements())  # type: ignore[attr-defined]
        # Re-adding a deleted label un-deletes it and moves it to the new vector.
        graph.add_items(vector.reshape(1, -1), np.array([slot]))  # type: ignore[attr-defined]

    def _graph_search(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        graph = self.graph
        assert graph is not None
        want = min(k, self.size)
        labels, distances = graph.knn_query(vector.reshape(1, -1), k=want)  # type: ignore[attr-defined]
        found = []
        for slot, distance in zip(labels[0], distances[0], strict=True):
            entry_id = self.ids[int(slot)]
            if entry_id is not None:
                found.append(Neighbour(entry_id, 1.0 - float(distance)))
        return found


class VectorIndex:
    """Partitioned nearest-neighbour search over unit vectors; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[str, _Partition] = {}
        self._where: dict[str, str] = {}  # entry id -> partition

    def __len__(self) -> int:
        return len(self._where)

    def add(self, entry_id: str, partition: str, vector: np.ndarray) -> None:
        with self._lock:
            if entry_id in self._where:
                return
            self._partitions.setdefault(partition, _Partition()).add(entry_id, vector)
            self._where[entry_id] = partition

    def remove(self, entry_id: str) -> None:
        with self._lock:
            partition = self._where.pop(entry_id, None)
            if partition is None:
                return
            part = self._partitions[partition]
            part.remove(entry_id)
            if part.size == 0:
                del self._partitions[partition]

    def search(self, partition: str, vector: np.ndarray, *, k: int = 3) -> list[Neighbour]:
        """Up to ``k`` nearest entries of ``partition``, most similar first."""
        with self._lock:
            part = self._partitions.get(partition)
            return part.search(vector, k) if part is not None else []

    def clear(self) -> None:
        with self._lock:
            self._partitions.clear()
            self._where.clear()
