"""A snapshot of a live schema read from pg_catalog, and the differences between two.

Alembic autogenerate cannot see enum values, index methods, operator classes or
partial-index predicates, so this reads the catalog itself: ``pg_enum`` labels by
``enumsortorder``, ``pg_index`` (with ``indisvalid``/``indisready``), ``pg_get_expr``
for predicates and defaults, ``pg_get_constraintdef`` with ``convalidated``.

A snapshot holds only what a migration decides, in a form that is the same on
PostgreSQL 15 to 18: names, types, defaults, methods, columns, operator classes,
predicates. Objects in ``public`` only; extensions by name.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Snapshot = dict[str, Any]

# Extensions that are optional: created when the server has them, never required.
OPTIONAL_EXTENSIONS = frozenset({"uuid-ossp", "plpgsql"})
# Extensions a revision uses where the server has them, with the tables that exist only
# then (their indexes and constraints go with them). A server without the extension
# available must have the schema less these: revision 000000000006 creates the vector
# table only where pgvector is installed.
FEATURE_EXTENSIONS: dict[str, frozenset[str]] = {"vector": frozenset({"search_embedding"})}

_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1
"""
_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND k.contype IN ('p', 'f', 'u', 'c', 'x')
ORDER BY 1, 2
"""
_ENUMS = """
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t
JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = current_schema()
GROUP BY t.typname ORDER BY 1
"""
_INDEXES = """
SELECT ic.relname AS name, tc.relname AS table_name, am.amname, i.indisunique,
       i.indisprimary, i.indisvalid, i.indisready,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       ARRAY(
         SELECT pg_get_indexdef(i.indexrelid, k + 1, true)
         FROM generate_subscripts(i.indkey, 1) AS k ORDER BY k
       ) AS columns,
       ARRAY(
         SELECT CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname END
         FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS u(oid, ord)
         JOIN pg_opclass oc ON oc.oid = u.oid ORDER BY u.ord
       ) AS opclasses,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE n.nspname = current_schema()
ORDER BY 1
"""
_EXTENSIONS = "SELECT extname FROM pg_extension ORDER BY 1"
_AVAILABLE = "SELECT name FROM pg_available_extensions WHERE name = ANY(:names) ORDER BY 1"
_FUNCTIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prosrc
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""
_TRIGGERS = """
SELECT c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal ORDER BY 1
"""


def _alembic_version(connection: Connection) -> str | None:
    exists = connection.execute(
        sa.text("SELECT to_regclass('alembic_version') IS NOT NULL")
    ).scalar()
    if not exists:
        return None
    rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(rows)) or None


def take_snapshot(connection: Connection) -> Snapshot:
    """Read the schema of ``connection``'s current schema into a JSON-ready dict."""
    q = connection.execute
    tables: dict[str, Any] = {
        name: {"columns": {}, "column_order": [], "constraints": {}}
        for (name,) in q(sa.text(_TABLES))
    }
    tables.pop("alembic_version", None)
    for table, column, type_, notnull, default, identity in q(sa.text(_COLUMNS)):
        if table in tables:
            tables[table]["column_order"].append(column)
            tables[table]["columns"][column] = {
                "type": type_,
                "nullable": not notnull,
                "default": default,
                "identity": identity or None,
            }
    for table, name, contype, definition, validated in q(sa.text(_CONSTRAINTS)):
        if table in tables:
            tables[table]["constraints"][name] = {
                "type": contype,
                "definition": definition,
                "validated": validated,
            }
    indexes: dict[str, Any] = {}
    for row in q(sa.text(_INDEXES)).mappings():
        if row["table_name"] == "alembic_version":
            continue
        indexes[row["name"]] = {
            "table": row["table_name"],
            "method": row["amname"],
            "unique": row["indisunique"],
            "primary": row["indisprimary"],
            "columns": list(row["columns"]),
            "opclasses": list(row["opclasses"]),
            "predicate": row["predicate"],
            "valid": bool(row["indisvalid"] and row["indisready"]),
            "definition": row["definition"],
        }
    return {
        "alembic_version": _alembic_version(connection),
        "extensions": sorted(
            name for (name,) in q(sa.text(_EXTENSIONS)) if name not in OPTIONAL_EXTENSIONS
        ),
        "enums": {name: list(labels) for name, labels in q(sa.text(_ENUMS))},
        "tables": tables,
        "indexes": indexes,
        "functions": {
            sig: hashlib.sha256(src.encode()).hexdigest()[:16]
            for sig, src in q(sa.text(_FUNCTIONS))
        },
        "triggers": dict(q(sa.text(_TRIGGERS)).all()),
        # not compared: what decides which optional objects the schema should have
        "feature_extensions_available": sorted(
            q(sa.text(_AVAILABLE), {"names": sorted(FEATURE_EXTENSIONS)}).scalars()
        ),
    }


def for_server(expected: Snapshot, actual: Snapshot) -> Snapshot:
    """``expected`` less the optional objects whose extension ``actual``'s server lacks."""
    available = actual.get("feature_extensions_available")
    if available is None:
        return expected
    missing = [ext for ext in FEATURE_EXTENSIONS if ext not in available]
    if not missing:
        return expected
    tables = frozenset().union(*(FEATURE_EXTENSIONS[ext] for ext in missing))
    return {
        **expected,
        "extensions": [e for e in expected["extensions"] if e not in missing],
        "tables": {k: v for k, v in expected["tables"].items() if k not in tables},
        "indexes": {k: v for k, v in expected["indexes"].items() if v.get("table") not in tables},
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def diff_snapshots(expected: Snapshot, actual: Snapshot) -> list[str]:
    """One readable line per difference between ``expected`` and ``actual``.

    Objects that exist only with an extension the actual server lacks (pgvector) are
    not expected there.
    """
    out: list[str] = []
    expected = for_server(expected, actual)

    if expected.get("alembic_version") != actual.get("alembic_version"):
        out.append(
            f"alembic version: expected {_fmt(expected.get('alembic_version'))}, "
            f"found {_fmt(actual.get('alembic_version'))}"
        )
    for ext in sorted(set(expected["extensions"]) - set(actual["extensions"])):
        out.append(f"extension {ext}: missing")

    exp_enums, act_enums = expected["enums"], actual["enums"]
    for name in sorted(set(exp_enums) | set(act_enums)):
        if name not in act_enums:
            out.append(f"enum type {name}: missing")
        elif name not in exp_enums:
            out.append(f"enum type {name}: unexpected")
        elif exp_enums[name] != act_enums[name]:
            extra = [v for v in act_enums[name] if v not in exp_enums[name]]
            missing = [v for v in exp_enums[name] if v not in act_enums[name]]
            detail = []
            if extra:
                detail.append("extra " + ", ".join(repr(v) for v in extra))
            if missing:
                detail.append("missing " + ", ".join(repr(v) for v in missing))
            if not detail:
                detail.append("order differs")
            out.append(
                f"enum type {name}: values differ ({'; '.join(detail)}): "
                f"expected {_fmt(exp_enums[name])}, found {_fmt(act_enums[name])}"
            )

    exp_tables, act_tables = expected["tables"], actual["tables"]
    for table in sorted(set(exp_tables) | set(act_tables)):
        if table not in act_tables:
            out.append(f"table {table}: missing")
            continue
        if table not in exp_tables:
            out.append(f"table {table}: unexpected")
            continue
        for kind in ("columns", "constraints"):
            label = "column" if kind == "columns" else "constraint"
            exp_items, act_items = exp_tables[table][kind], act_tables[table][kind]
            for item in sorted(set(exp_items) | set(act_items)):
                if item not in act_items:
                    out.append(f"{label} {table}.{item}: missing")
                elif item not in exp_items:
                    out.append(f"{label} {table}.{item}: unexpected")
                else:
                    for key, want in exp_items[item].items():
                        got = act_items[item].get(key)
                        if want != got:
                            out.append(
                                f"{label} {table}.{item}: {key} differs: expected {_fmt(want)}, "
                                f"found {_fmt(got)}"
                            )
        want_order, got_order = exp_tables[table]["column_order"], act_tables[table]["column_order"]
        if want_order != got_order and set(want_order) == set(got_order):
            out.append(
                f"table {table}: column order differs: expected {_fmt(want_order)}, "
                f"found {_fmt(got_order)}"
            )

    exp_idx, act_idx = expected["indexes"], actual["indexes"]
    for name in sorted(set(exp_idx) | set(act_idx)):
        if name not in act_idx:
            out.append(f"index {name}: missing (expected {exp_idx[name].get('definition', '')})")
            continue
        if name not in exp_idx:
            state = "INVALID (a failed concurrent build), " if not act_idx[name]["valid"] else ""
            out.append(f"index {name}: {state}unexpected ({act_idx[name].get('definition', '')})")
            continue
        want, got = exp_idx[name], act_idx[name]
        if not got["valid"]:
            out.append(f"index {name}: INVALID (a failed concurrent build); drop and re-create it")
        for key in ("table", "method", "unique", "primary", "columns", "opclasses", "predicate"):
            if want.get(key) != got.get(key):
                out.append(
                    f"index {name}: {key} differs: expected {_fmt(want.get(key))}, "
                    f"found {_fmt(got.get(key))}"
                )

    for kind, label in (("functions", "function"), ("triggers", "trigger")):
        exp_items, act_items = expected.get(kind, {}), actual.get(kind, {})
        for item in sorted(set(exp_items) | set(act_items)):
            if item not in act_items:
                out.append(f"{label} {item}: missing")
            elif item not in exp_items:
                out.append(f"{label} {item}: unexpected")
            elif exp_items[item] != act_items[item]:
                out.append(f"{label} {item}: definition differs")
    return out
