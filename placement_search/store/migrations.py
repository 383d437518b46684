"""Create the tables of a new store, and bring an older store up to this schema version, in place.

Opening a current store only reads its version (a reader never takes the write lock). A store of
an older version is migrated in one transaction, so it is either fully migrated or untouched.

Version 1 -> 2: trials gain ``epochs`` (filled from their curves), ``device`` and ``label`` and the
status ``stopped``. Trials
that ``analysis/sweep_local.py`` recorded under version 1 had keys ``local:[LABEL:]PLACEMENT:sSEED``
and a node ``HOST:DEVICE``; the label and the device move to their own columns here, the one place
that knows those old formats, so nothing else ever parses a key.

Version 2 -> 3: trials gain their price (``inference_flops``, ``inference_cost``, ``train_flops``;
placement/price.py). Each stored trial gets them from its placement and its search's config when
the config names a registered backbone (built here once per backbone to count its FLOPs; hub
names are left NULL rather than fetched) and sets ``train_samples``, ``validation_samples`` and
``test_samples`` (taken as the split sizes): the number of classes comes from the trial's head
parameters, the evaluations from its curve. Anything else stays NULL.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.schema import CreateIndex, CreateTable

from placement_search.errors import PlacementSearchError
from placement_search.store.schema import SCHEMA_VERSION, TRIAL_STATUSES, Base, Meta, Trial

_LEGACY_LOCAL_KEY = re.compile(r"^local:(?:(?P<label>.+):)?(?P<placement>[0-9>,-]*):s(?P<seed>-?[0-9]+)$")


def _version(conn) -> str | None:
    if not inspect(conn).has_table(Meta.__tablename__):
        return None
    return conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()


def prepare_schema(engine: Engine, write_engine: Engine, shown_url: str) -> None:
    """Create missing tables, migrate an older store, refuse a newer one (serialised between processes)."""
    with engine.connect() as conn:  # a plain read first: the common case takes no write lock
        if _version(conn) == str(SCHEMA_VERSION):
            return
    postgres = write_engine.dialect.name == "postgresql"
    with write_engine.connect() as conn:
        if not postgres:
            # table rebuilds must not cascade deletes into curves; the pragma is a no-op inside a
            # transaction, so it goes to the DBAPI connection (autocommit) before SQLAlchemy begins
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if postgres:
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243010)")
                version = _version(conn)
                if version is None:
                    fresh = not inspect(conn).has_table(Trial.__tablename__)
                    Base.metadata.create_all(conn)
                    if not fresh:
                        raise PlacementSearchError(f"results store {shown_url} has trial tables but no schema version; "
                                                   "use a new store path")
                    conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                elif version in ("1", "2"):
                    if version == "1":
                        _v1_to_v2(conn, postgres)
                    _v2_to_v3(conn, postgres)
                elif version != str(SCHEMA_VERSION):
                    raise PlacementSearchError(
                        f"results store {shown_url} has schema version {version}, this placement-search "
                        f"writes version {SCHEMA_VERSION}; use a new store path or the matching placement-search"
                    )
        finally:
            if not postgres:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _v1_to_v2(conn, postgres: bool) -> None:
    statuses = ", ".join(f"'{s}'" for s in TRIAL_STATUSES)
    if postgres:
        for column, kind in (("epochs", "DOUBLE PRECISION"), ("device", "VARCHAR(255)"), ("label", "VARCHAR(200)")):
            conn.exec_driver_sql(f"ALTER TABLE trials ADD COLUMN {column} {kind}")
        conn.exec_driver_sql("ALTER TABLE trials DROP CONSTRAINT ck_trials_status")
        conn.exec_driver_sql(f"ALTER TABLE trials ADD CONSTRAINT ck_trials_status CHECK (status IN ({statuses}))")
    else:
        # SQLite cannot alter a CHECK constraint: rebuild the table (sqlite.org/lang_altertable.html)
        old = [c["name"] for c in inspect(conn).get_columns("trials")]
        ddl = str(CreateTable(Trial.__table__).compile(conn)).replace("CREATE TABLE trials ", "CREATE TABLE trials_v2 ", 1)
        conn.exec_driver_sql(ddl)
        columns = ", ".join(old)
        conn.exec_driver_sql(f"INSERT INTO trials_v2 ({columns}) SELECT {columns} FROM trials")
        conn.exec_driver_sql("DROP TABLE trials")
        conn.exec_driver_sql("ALTER TABLE trials_v2 RENAME TO trials")
        for index in Trial.__table__.indexes:
            conn.execute(CreateIndex(index))
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise PlacementSearchError(f"migrating the store to schema version 2 broke {len(broken)} references; "
                                       "the store was left unchanged")
    _split_legacy_local_keys(conn)
    # version 1's Tune callback let the final report blank the last curve point's epoch: the
    # epoch is proportional to the step within a trial, so it comes back from the point before
    conn.exec_driver_sql(
        "UPDATE curves SET epoch = step * (SELECT p.epoch * 1.0 / p.step FROM curves p WHERE p.trial_id = curves.trial_id "
        "AND p.step < curves.step AND p.epoch IS NOT NULL AND p.step > 0 ORDER BY p.step DESC LIMIT 1) "
        "WHERE epoch IS NULL")
    # what a version-1 trial cost: the epoch of its last curve point
    conn.exec_driver_sql("UPDATE trials SET epochs = (SELECT MAX(c.epoch) FROM curves c WHERE c.trial_id = trials.id)")
    conn.execute(Meta.__table__.update().where(Meta.key == "schema_version").values(value="2"))


_V3_COLUMNS = ("inference_flops", "inference_cost", "train_flops")


def _v2_to_v3(conn, postgres: bool) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("trials")}  # a v1 store rebuilt above has them
    for column in _V3_COLUMNS:
        if column not in have:
            conn.exec_driver_sql(f"ALTER TABLE trials ADD COLUMN {column} {'DOUBLE PRECISION' if postgres else 'FLOAT'}")
    _price_stored_trials(conn)
    conn.execute(Meta.__table__.update().where(Meta.key == "schema_version").values(value="3"))


def _price_stored_trials(conn) -> None:
    from placement_search.placement.price import TESTED_STATUSES, stored_price

    searches = conn.execute(text("SELECT id, config FROM searches")).all()
    for search_id, config in searches:
        config = json.loads(config) if isinstance(config, str) else config
        rows = conn.execute(text(
            "SELECT t.id, t.placement, t.status, t.epochs, t.num_trainable_params - t.num_adapter_params, "
            "(SELECT COUNT(*) FROM curves c WHERE c.trial_id = t.id) FROM trials t "
            "WHERE t.search_id = :id AND t.num_trainable_params IS NOT NULL AND t.num_adapter_params IS NOT NULL"),
            {"id": search_id}).all()
        updates = []
        for trial_id, placement, status, epochs, head_params, evaluations in rows:
            try:
                price = stored_price(config or {}, placement, int(head_params))
            except Exception:  # noqa: BLE001 - an old or foreign config: the trial keeps NULLs
                price = None
            if price is None:
                continue
            values = price.metrics(epochs, int(evaluations), status in TESTED_STATUSES)
            updates.append({"id": trial_id, "flops": values["inference_flops"], "cost": values["inference_cost"],
                            "train": values.get("train_flops")})
        if updates:
            conn.execute(text("UPDATE trials SET inference_flops = :flops, inference_cost = :cost, "
                              "train_flops = :train WHERE id = :id"), updates)


def _split_legacy_local_keys(conn) -> None:
    rows = conn.execute(text("SELECT t.id, t.trial_key, t.node, s.searcher FROM trials t "
                             "JOIN searches s ON s.id = t.search_id WHERE t.trial_key LIKE 'local:%'")).all()
    for trial_id, key, node, searcher in rows:
        match = _LEGACY_LOCAL_KEY.match(key)
        label = legacy_label(match.group("label") if match else None, searcher)
        host, device = (node.split(":", 1) + [None])[:2] if node else (None, None)
        conn.execute(text("UPDATE trials SET label = :label, node = :node, device = :device WHERE id = :id"),
                     {"label": label, "node": host, "device": device, "id": trial_id})


def legacy_label(label: str | None, searcher: str) -> str | None:
    """A readable variant name from a version-1 local key label: ``K3:g0.6`` -> ``gga gamma 0.6``,
    ``K3:r1`` -> None (the search's own searcher), ``sequential-all`` -> itself."""
    if not label:
        return None
    parts = label.split(":")
    gamma = [p[1:] for p in parts if re.fullmatch(r"g[0-9.]+", p)]
    if gamma:
        return f"{searcher} gamma {gamma[0]}"
    if all(re.fullmatch(r"[Kr][0-9]+", p) for p in parts):
        return None
    return parts[0]
