# Pulpo: functions a Python deployment script can call, with Octopus's
# names, then the script itself in the same globals (so it calls them
# without importing anything). Run as:
#   python3 -u bootstrap.py [--pulpo-defined FILE.json] SCRIPT [ARGUMENTS...]
import base64 as _pulpo_base64
import json as _pulpo_json
import os as _pulpo_os
import sys as _pulpo_sys

# Names are lower-cased in ASCII only, as the bash bootstrap does, so both
# find the same variable under any case.
_pulpo_lower = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_pulpo_variables = {}
# octopusvariables is Octopus's dictionary of the variables, by their names.
octopusvariables = {}

if (getattr(_pulpo_sys.stdout, "encoding", "") or "").lower().replace("-", "") != "utf8" and hasattr(_pulpo_sys.stdout, "reconfigure"):
    # The task log is UTF-8, whatever the target's locale says.
    _pulpo_sys.stdout.reconfigure(encoding="utf-8")
    _pulpo_sys.stderr.reconfigure(encoding="utf-8")


def _pulpo_define(name, value):
    octopusvariables[name] = value
    _pulpo_variables[name.translate(_pulpo_lower)] = value


def _pulpo_b64(value):
    return _pulpo_base64.b64encode(str(value).encode("utf-8")).decode("ascii")


def _pulpo_print(text):
    print(text, flush=True)


def get_octopusvariable(name):
    """The value of a variable, any case of its name; "" if there is none."""
    return _pulpo_variables.get(str(name).translate(_pulpo_lower), "")


def set_octopusvariable(name, value, sensitive=False):
    """Sets an output variable, read by later steps as
    Octopus.Action[STEP].Output.NAME."""
    if isinstance(sensitive, str):
        sensitive = sensitive.strip().lower() in ("true", "-sensitive")
    attrs = "name='%s' value='%s'" % (_pulpo_b64(name), _pulpo_b64(value))
    if sensitive:
        attrs += " sensitive='%s'" % _pulpo_b64("True")
    _pulpo_print("##octopus[setVariable %s]" % attrs)
    _pulpo_define(str(name), str(value))


def createartifact(path, name=None):
    """Attaches the file at path to the deployment when the step ends."""
    path = _pulpo_os.path.abspath(path)
    if not name:
        name = _pulpo_os.path.basename(path)
    _pulpo_print("##octopus[createArtifact path='%s' name='%s']" % (_pulpo_b64(path), _pulpo_b64(name)))


def failstep(message=None):
    """Fails the step, with message as its result."""
    if message is not None:
        _pulpo_print("##octopus[resultMessage message='%s']" % _pulpo_b64(message))
    _pulpo_sys.exit(1)


def _pulpo_level(level, message):
    _pulpo_print("##octopus[stdout-%s]\n%s\n##octopus[stdout-default]" % (level, message))


def printverbose(message):
    _pulpo_level("verbose", message)


def printhighlight(message):
    _pulpo_level("highlight", message)


def printwait(message):
    _pulpo_level("wait", message)


def printwarning(message):
    _pulpo_level("warning", message)


def updateprogress(percentage, message=""):
    _pulpo_print("##octopus[progress percentage='%s' message='%s']" % (_pulpo_b64(percentage), _pulpo_b64(message)))


get_pulpovariable = get_octopusvariable
set_pulpovariable = set_octopusvariable
new_octopusartifact = createartifact
new_pulpoartifact = createartifact


def _pulpo_main(values, prelude):
    for name, value in _pulpo_json.loads(_pulpo_base64.b64decode(values).decode("utf-8")):
        _pulpo_define(name, value)
    args = _pulpo_sys.argv[1:]
    if len(args) >= 2 and args[0] == "--pulpo-defined":
        # Values only the runner knows (the installation folder).
        with open(args[1], "rb") as f:
            for name, value in _pulpo_json.loads(f.read().decode("utf-8")):
                _pulpo_define(name, value)
        args = args[2:]
    if prelude:
        # Shell code that fetches the packages the script refers to.
        import subprocess

        code = subprocess.call(["bash", "-c", _pulpo_base64.b64decode(prelude).decode("utf-8")])
        if code != 0:
            _pulpo_sys.exit(code)
    if not args:
        return
    path = args[0]
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError) as e:
        import traceback

        traceback.print_exception(type(e), e, None)
        _pulpo_sys.exit(1)
    _pulpo_sys.argv = args
    _pulpo_sys.path[0] = _pulpo_os.path.dirname(_pulpo_os.path.abspath(path))
    scope = globals()
    scope["__file__"] = path
    try:
        exec(code, scope)
    except SystemExit:
        raise
    except BaseException as e:
        import traceback

        # The traceback starts at the script: this function's frame is ours.
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        _pulpo_sys.exit(1)


if __name__ == "__main__":
    _pulpo_main(
        "__PULPO_VALUES__",
        "__PULPO_PRELUDE__",
    )
