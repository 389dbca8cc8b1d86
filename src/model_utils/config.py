"""Configuration: a YAML file of defaults, overridden from the command line.

The YAML file holds three documents: the values, a help text per key, and the
allowed values of some keys. Keys are written on the command line as
``--key value`` (top level) or ``--SECTION.KEY value`` (nested); values are
parsed as YAML and must have the type of the default, in another file given with
``--config_path`` as on the command line. Every value is then checked against the
rules of :mod:`src.model_utils.config_rules` before anything else happens.

Nothing is parsed at import time. ``get_config()`` parses explicitly; entry
scripts that write ``from src.model_utils.config import config`` get the
configuration of ``sys.argv`` parsed on first access.
"""
import difflib
import logging
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

from src.errors import ConfigError, shown_path
from src.utils.cli import program_name, summary
from src.model_utils.config_rules import RULES, check_rules, unused_values

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "default_config.yaml")

#: Top-level shortcut keys and the nested key each one sets when non-empty/non-zero.
SHORTCUTS: Tuple[Tuple[str, str], ...] = (
    ("eval_model_file", "TEST.MODEL_FILE"),
    ("coco_bbox_file", "TEST.COCO_BBOX_FILE"),
    ("batch_size", "TRAIN.BATCH_SIZE"),
    ("dataset_path", "DATASET.ROOT"),
    ("end_epoch", "TRAIN.END_EPOCH"),
)


class Config:
    """Nested configuration with attribute access (``cfg.MODEL.IMAGE_SIZE``)."""

    def __init__(self, values: Dict[str, Any]):
        for key, value in values.items():
            self.__dict__[key] = Config(value) if isinstance(value, dict) else value

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes: name the key and a close match.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"no configuration key '{name}'{_suggest(name, list(self.__dict__))}")

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def set(self, dotted_key: str, value: Any) -> None:
        """Replaces the value of an existing key (``"ckpt_save_dir"``, ``"DATASET.ROOT"``).

        The new value is checked where it enters, as :func:`get_config` checks the others: against
        the type of the value it replaces and the key's rule (:mod:`src.model_utils.config_rules`).

        Raises:
            ConfigError: an unknown key, or a value of another type or outside the key's rule.
        """
        *parents, leaf = dotted_key.split(".")
        node = self
        for part in parents:
            node = node.__dict__.get(part)
            if not isinstance(node, Config):
                raise ConfigError(f"no configuration section '{part}' in '{dotted_key}'")
        if leaf not in node.__dict__:
            raise ConfigError(f"unknown configuration key '{dotted_key}'")
        value = _check_type(dotted_key, value, node.__dict__[leaf])
        rule = RULES.get(dotted_key)
        if rule is not None and not rule.test(value):
            raise ConfigError(f"{dotted_key}: expected {rule.allowed}, got {value!r}")
        node.__dict__[leaf] = value

    def to_dict(self) -> Dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, Config) else v for k, v in self.__dict__.items()}

    def __repr__(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None).rstrip()


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    if not close:
        close = [k for k in known if k.lower().endswith("." + name.lower()) or k.lower() == name.lower()][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


def load_yaml(path: str) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """Reads a configuration file into (values, help texts, allowed values)."""
    if not os.path.isfile(path):
        raise ConfigError(f"configuration file not found: {shown_path(path)}")
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f)]
    except yaml.YAMLError as err:
        raise ConfigError(f"configuration file {path} is not valid YAML: {err}") from err
    docs = [d or {} for d in docs] + [{}] * (3 - len(docs))
    if not isinstance(docs[0], dict):
        raise ConfigError(f"configuration file {path}: the first YAML document must be a mapping of keys")
    return docs[0], docs[1], docs[2]


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    """``over`` laid on ``base``, section by section."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _flatten(tree: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _yaml_value(text: str) -> Any:
    """YAML scalar or list; also reads numbers YAML 1.1 leaves as strings (``1e-3``)."""
    value = yaml.safe_load(text)

    def number(item: Any) -> Any:
        if isinstance(item, str):
            try:
                return float(item)
            except ValueError:
                return item
        return item

    return [number(v) for v in value] if isinstance(value, list) else number(value)


def _is_number(item: Any) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


def _check_number(label: str, value: Any, default: Any, shown: str) -> Any:
    """``value`` for an integer or float ``default`` (an integer is fine for a float); ``label`` names it."""
    if isinstance(default, int):
        if _is_number(value) and isinstance(value, int):
            return value
        raise ConfigError(f"{label}: expected an integer, got {shown}")
    if isinstance(value, str):  # YAML 1.1 leaves 1e-3 a string
        try:
            value = float(value)
        except ValueError:
            pass
    if _is_number(value):
        return float(value)
    raise ConfigError(f"{label}: expected a number, got {shown}")


def _check_type(label: str, value: Any, default: Any, shown: Optional[str] = None) -> Any:
    """``value`` checked against the type of ``default``, the same for the command line and files.

    Integers stand for floats (and become floats); list entries must have the type of the
    default's entries. ``shown`` is how the value is quoted in the error (default: its repr).
    """
    shown = repr(value) if shown is None else shown
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{label}: expected True or False, got {shown}")
    if isinstance(default, (int, float)):
        return _check_number(label, value, default, shown)
    if isinstance(default, str):
        if value is None:
            return ""
        if isinstance(value, bool):  # a YAML True/False for a key whose values include "True"/"False"
            return str(value)
        if isinstance(value, str) or _is_number(value):
            return str(value)
        raise ConfigError(f"{label}: expected a string, got {shown} (quote it in YAML files)")
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{label}: expected a list such as {default}, got {shown}")
        if default and all(_is_number(v) for v in default):
            kind = "integers" if all(isinstance(v, int) for v in default) else "numbers"
            try:
                return [_check_number(label, v, default[0], shown) for v in value]
            except ConfigError:
                raise ConfigError(f"{label}: expected a list of {kind} such as {default}, got {shown}") from None
        return value
    return value


def _parse_value(key: str, text: str, default: Any) -> Any:
    """Parses the command-line ``text`` of ``--key`` and checks it against the type of ``default``."""
    shown = f"'{text}'"
    if isinstance(default, bool):
        lowered = text.strip().lower()
        value: Any = lowered == "true" if lowered in ("true", "false") else text
    elif isinstance(default, str):
        value = text
    else:
        try:
            value = _yaml_value(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"--{key}: cannot parse '{text}' as a value: {err}") from err
    return _check_type(f"--{key}", value, default, shown)


def _split_args(argv: Sequence[str]) -> List[Tuple[str, str]]:
    """Turns ``--key value`` / ``--key=value`` words into (key, text) pairs."""
    pairs = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("--") or len(word) == 2:
            raise ConfigError(f"unexpected argument '{word}': options are written --key value")
        if "=" in word:
            key, text = word[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise ConfigError(f"option {word} needs a value")
            key, text = word[2:], argv[i + 1]
            i += 2
        pairs.append((key, text))
    return pairs


def _unflatten(flat: Dict[str, Any]) -> Dict[str, Any]:
    """``{"TRAIN.LR": v}`` back to ``{"TRAIN": {"LR": v}}``, in the order of ``flat``."""
    tree: Dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _choice_problems(flat: Dict[str, Any], choices: Dict[str, Any], labels: Dict[str, str]) -> List[str]:
    problems = []
    for key, allowed in _flatten(choices).items():
        if key in flat and isinstance(allowed, list) and flat[key] not in allowed:
            problems.append(f"{labels.get(key, key)}: expected one of {allowed}, got {flat[key]!r}")
    return problems


def format_help(values: Dict[str, Any], helps: Dict[str, Any], choices: Dict[str, Any],
                prog: str = "python <script>.py", description: str = "") -> str:
    """The ``--help`` text: the usage line, ``description``, and every key with its default, help and
    allowed values (the shape of the tools' argparse help, see :mod:`src.utils.cli`)."""
    flat_help, flat_choices = _flatten(helps), _flatten(choices)
    lines = [f"usage: {prog} [--config_path FILE] [--key value ...] [--SECTION.KEY value ...]", ""]
    if description:
        lines += [description, ""]
    lines.append("options:")
    for key, default in _flatten(values).items():
        text = flat_help.get(key, "")
        if key in flat_choices:
            text += f" Choices: {flat_choices[key]}."
        elif key in RULES:
            text += f" Allowed: {RULES[key].allowed}."
        lines.append(f"  --{key} (default: {default!r})")
        if text:
            lines.append(f"      {text.strip()}")
    return "\n".join(lines)


def _read_other_file(path: str, schema: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """The values of ``path`` (type-checked, flat) and its help and choice documents.

    Raises:
        ConfigError: one line per unknown key (with the closest known key) or wrongly typed value.
    """
    own_values, own_helps, own_choices = load_yaml(path)
    sections = {key.split(".")[0] for key in schema if "." in key}
    values, problems = {}, []
    for key, value in _flatten(own_values).items():
        if key in sections:
            problems.append(f"{path}: {key} is a section; write its keys indented below it")
        elif key not in schema:
            problems.append(f"{path}: unknown configuration key '{key}'{_suggest(key, list(schema))}")
        else:
            try:
                values[key] = _check_type(f"{path}: {key}", value, schema[key])
            except ConfigError as err:
                problems.append(str(err))
    if problems:
        raise ConfigError("\n".join(problems))
    return values, own_helps, own_choices


def _check_values(flat: Dict[str, Any], labels: Dict[str, str], choices: Dict[str, Any], warn: bool = True) -> None:
    """Raises one ConfigError with a line per value outside its choices or rules; logs the rules' warnings."""
    problems, warnings = check_rules(flat, labels)
    problems = _choice_problems(flat, choices, labels) + problems
    if problems:
        raise ConfigError("\n".join(problems))
    for warning in warnings if warn else ():
        logger.warning("warning: %s", warning)


def check_config(cfg: Config) -> None:
    """Checks a configuration again after code changed it (the ModelArts adapters set its paths): every value
    against its choices (those of ``default_config.yaml`` and of the ``config_path`` file) and the rules,
    as :func:`get_config` checks them.

    Raises:
        ConfigError: one line per problem.
    """
    _, _, choices = load_yaml(DEFAULT_CONFIG_PATH)
    path = cfg.get("config_path", DEFAULT_CONFIG_PATH)
    if path and os.path.abspath(path) != os.path.abspath(DEFAULT_CONFIG_PATH):
        choices = _merge(choices, load_yaml(path)[2])
    flat = _flatten({key: value for key, value in cfg.to_dict().items() if key != "config_path"})
    _check_values(flat, {}, choices, warn=False)   # get_config said the warnings already


def get_config(argv: Optional[Sequence[str]] = None) -> Config:
    """Builds the configuration from a YAML file and command-line overrides, and checks every value.

    Args:
        argv: Command-line words; ``None`` means ``sys.argv[1:]``, ``[]`` the defaults.
            ``--config_path FILE`` selects another YAML file with the same schema;
            ``--help`` prints every key and exits. Keys the other file leaves out
            keep the values of ``default_config.yaml``.

    Returns:
        The configuration, with the shortcut keys applied.

    Raises:
        ConfigError: one line per problem: an unknown key in the file or on the command line
            (named, with the closest known key), a value of the wrong type, a value outside its
            choices or its allowed range (:mod:`src.model_utils.config_rules`), keys that do not
            fit together, or an unreadable file.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    pairs = _split_args([w for w in argv if w not in ("-h", "--help")])
    path = DEFAULT_CONFIG_PATH
    for key, text in pairs:
        if key == "config_path":
            path = text
    values, helps, choices = load_yaml(DEFAULT_CONFIG_PATH)
    # Types come from the defaults: a file that writes 0 for a float key still takes --KEY 0.1.
    schema = _flatten(values)
    flat = dict(schema)
    labels: Dict[str, str] = {}   # where a value came from, for the error messages
    file_keys = set()
    if os.path.abspath(path) != os.path.abspath(DEFAULT_CONFIG_PATH):
        # Another file may be complete or list only what differs from the defaults.
        own_values, own_helps, own_choices = _read_other_file(path, schema)
        file_keys = set(own_values)
        flat.update(own_values)
        labels.update({key: f"{path}: {key}" for key in own_values})
        helps, choices = _merge(helps, own_helps), _merge(choices, own_choices)
    if "-h" in argv or "--help" in argv:
        main_doc = getattr(sys.modules.get("__main__"), "__doc__", None)
        print(format_help(_unflatten(flat), helps, choices, program_name(), summary(main_doc)))
        sys.exit(0)

    problems = []
    for key, text in pairs:
        if key == "config_path":
            continue
        if key not in schema:
            problems.append(f"unknown configuration key '--{key}'{_suggest(key, list(schema))}")
            continue
        try:
            flat[key] = _parse_value(key, text, schema[key])
            labels[key] = f"--{key}"
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError("\n".join(problems))

    cli_keys = {key for key, _ in pairs}
    for short, target in SHORTCUTS:
        if short not in flat or target not in flat or flat[short] in ("", 0, None):
            continue
        if short in RULES and not RULES[short].test(flat[short]):
            continue   # refused below, under its own name
        # A nested key set explicitly (command line, or the chosen file) wins over a
        # shortcut that only carries a default: --TRAIN.BATCH_SIZE 32 is not undone by batch_size: 64.
        if short not in cli_keys and (target in cli_keys or (target in file_keys and short not in file_keys)):
            continue
        flat[target] = flat[short]
        labels[target] = f"{labels.get(short, short)} (sets {target})"
    _check_values(flat, labels, choices)
    unused = unused_values(flat, schema)
    if unused:
        logger.warning("warning: %s", unused)
    tree = _unflatten(flat)
    tree["config_path"] = path
    return Config(tree)


def __getattr__(name: str) -> Any:
    # ``from src.model_utils.config import config`` parses sys.argv on first use,
    # never at import time of this module.
    if name == "config":
        cfg = get_config()
        globals()["config"] = cfg
        return cfg
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
