#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks api/openapi.yaml against the daemon's ops table (as printed by ops-dump):
# same (method, path, access) set, 4xx responses documented, every local $ref resolvable.
"""Usage: check-openapi.py SPEC OPS_DUMP [--self-test]

Exit 0 when the spec matches, 1 on any difference (all are printed), 77 when
python3-yaml is missing. --self-test breaks the loaded spec in several ways and
fails unless the checks catch every one of them.
"""

import copy
import subprocess
import sys

try:
    import yaml
except ImportError:
    print('check-openapi: python3-yaml is not installed, skipping')
    sys.exit(77)

HTTP_METHODS = ('get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace')
ACCESS_CLASSES = ('public', 'tenant', 'admin')


def load_ops(ops_dump):
    """Runs ops-dump; returns the set of (METHOD, path, access) it prints."""
    out = subprocess.run([ops_dump], check=True, capture_output=True, text=True).stdout
    ops = set()
    for n, line in enumerate(out.splitlines(), 1):
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(f'ops-dump line {n} is not "METHOD PATH ACCESS": {line!r}')
        ops.add(tuple(fields))
    if not ops:
        raise ValueError('ops-dump printed no operations')
    return ops


def operations(spec):
    """Yields (METHOD, path, operation object) for every operation in the spec."""
    for path, item in (spec.get('paths') or {}).items():
        for method, op in (item or {}).items():
            if method in HTTP_METHODS:
                yield method.upper(), path, op


def resolve(spec, ref):
    """Returns the object a local '#/a/b' reference names, or None."""
    if not ref.startswith('#/'):
        return None
    node = spec
    for part in ref[2:].split('/'):
        part = part.replace('~1', '/').replace('~0', '~')
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def all_refs(node, where='#'):
    """Yields (location, ref) for every $ref anywhere below node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref' and isinstance(v, str):
                yield where, v
            else:
                yield from all_refs(v, f'{where}/{k}')
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f'{where}/{i}')


def deref(spec, node):
    """Follows $ref chains (a bounded number of hops); returns the target or None."""
    for _ in range(16):
        if not isinstance(node, dict) or '$ref' not in node:
            return node
        node = resolve(spec, node['$ref'])
    return None


def check_routes(spec, ops):
    """The spec's (method, path, access) set must equal the ops table's."""
    problems = []
    documented = set()
    for method, path, op in operations(spec):
        access = op.get('x-maio-access')
        if access not in ACCESS_CLASSES:
            problems.append(f'{method} {path}: x-maio-access is {access!r}, not one of {", ".join(ACCESS_CLASSES)}')
        documented.add((method, path, access))
    for m, p, a in sorted(ops - documented):
        problems.append(f'in the ops table but not in the spec: {m} {p} {a}')
    for m, p, a in sorted(documented - ops):
        problems.append(f'in the spec but not in the ops table: {m} {p} {a}')
    return problems


def response_uses_error_schema(spec, resp):
    resp = deref(spec, resp)
    if not isinstance(resp, dict):
        return False
    media = (resp.get('content') or {}).get('application/json') or {}
    schema = media.get('schema') or {}
    return schema.get('$ref') == '#/components/schemas/Error'


def check_responses(spec):
    """Each operation documents a 4xx; every 4xx/5xx carries the Error schema;
    the errors its access class implies are there."""
    problems = []
    for method, path, op in operations(spec):
        responses = {str(k): v for k, v in (op.get('responses') or {}).items()}
        errors = [c for c in responses if c[0] in '45']
        if not any(c.startswith('4') for c in errors):
            problems.append(f'{method} {path}: documents no 4xx response')
        if not any(c.startswith('2') for c in responses):
            problems.append(f'{method} {path}: documents no 2xx response')
        for code in errors:
            if not response_uses_error_schema(spec, responses[code]):
                problems.append(f'{method} {path}: response {code} does not use the Error schema')
        access = op.get('x-maio-access')
        need = []
        if access in ('tenant', 'admin'):
            need.append('401')
        if access == 'admin':
            need.append('403')
        if '{' in path:
            need += ['400', '404']
        if 'requestBody' in op:
            need += ['400', '413', '415']
        for code in need:
            if code not in responses:
                problems.append(f'{method} {path}: {access} operation does not document {code}')
    return problems


def check_bodies(spec):
    """Request body schemas are closed objects: unknown members are a 400 in the daemon."""
    problems = []
    for method, path, op in operations(spec):
        body = deref(spec, op.get('requestBody'))
        if body is None:
            continue
        schema = deref(spec, ((body.get('content') or {}).get('application/json') or {}).get('schema'))
        if not isinstance(schema, dict):
            problems.append(f'{method} {path}: request body has no application/json schema')
        elif schema.get('type') != 'object' or schema.get('additionalProperties') is not False:
            problems.append(f'{method} {path}: request body schema is not an object with additionalProperties: false')
    return problems


def check_refs(spec):
    problems = []
    for where, ref in all_refs(spec):
        if resolve(spec, ref) is None:
            problems.append(f'{where}: $ref {ref} does not resolve')
    return problems


def check(spec, ops):
    if not isinstance(spec, dict) or not str(spec.get('openapi', '')).startswith('3.'):
        return ['the spec is not an OpenAPI 3 document']
    return check_routes(spec, ops) + check_responses(spec) + check_bodies(spec) + check_refs(spec)


def first_operation(spec, pred):
    for method, path, op in operations(spec):
        if pred(method, path, op):
            return method, path, op
    raise LookupError('self-test: no operation to break')


def mutations(spec):
    """Yields (description, broken copy of spec); each must be caught."""
    s = copy.deepcopy(spec)
    m, p, _ = first_operation(s, lambda *a: True)
    del s['paths'][p][m.lower()]
    yield f'route {m} {p} removed', s

    s = copy.deepcopy(spec)
    m, p, op = first_operation(s, lambda m, p, op: op.get('x-maio-access') == 'tenant')
    op['x-maio-access'] = 'public'
    yield f'access of {m} {p} changed', s

    s = copy.deepcopy(spec)
    s['paths'].setdefault('/v1/nonexistent', {})['get'] = copy.deepcopy(first_operation(s, lambda *a: True)[2])
    yield 'route added', s

    s = copy.deepcopy(spec)
    m, p, op = first_operation(s, lambda *a: True)
    op['responses'] = {k: v for k, v in op['responses'].items() if not str(k).startswith('4')}
    yield f'4xx responses of {m} {p} removed', s

    s = copy.deepcopy(spec)
    del s['components']['schemas']['Tenant']
    yield 'schema Tenant removed', s

    s = copy.deepcopy(spec)
    m, p, op = first_operation(s, lambda m, p, op: 'requestBody' in op)
    deref(s, op['requestBody']['content']['application/json']['schema']).pop('additionalProperties')
    yield f'request body of {m} {p} opened', s


def self_test(spec, ops):
    missed = 0
    for what, broken in mutations(spec):
        problems = check(broken, ops)
        print(f'self-test: {what}: {"caught" if problems else "MISSED"}'
              + (f' ({problems[0]})' if problems else ''))
        missed += not problems
    return missed


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != '--self-test'):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding='utf-8') as f:
        spec = yaml.safe_load(f)
    ops = load_ops(argv[2])

    problems = check(spec, ops)
    for p in problems:
        print(f'check-openapi: {p}')
    if problems:
        print(f'check-openapi: {len(problems)} problem(s) in {argv[1]}')
        return 1
    if len(argv) == 4:
        if self_test(spec, ops):
            print('check-openapi: the self-test found a broken spec that the checks accept')
            return 1
        print('check-openapi: self-test ok')
        return 0
    print(f'check-openapi: {argv[1]} matches the ops table ({len(ops)} operations)')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
