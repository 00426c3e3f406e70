#!/usr/bin/env python3
"""An independent check of the signatures the service makes, written from the providers'
documentation in another language: reads one JSON request on stdin, prints "ok" or "bad: …"."""
import base64, hashlib, hmac, json, sys
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote


def enc(s):
    return quote(s, safe='-_.~')


def aliyun(r):
    params = dict(parse_qsl(r['body'], keep_blank_values=True))
    got = params.pop('Signature', '')
    canonical = '&'.join(f'{enc(k)}={enc(v)}' for k, v in sorted(params.items()))
    to_sign = f"{r['method']}&{enc('/')}&{enc(canonical)}"
    want = base64.b64encode(hmac.new((r['secret'] + '&').encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return got == want and params.get('AccessKeyId') == r['keyId']


def tencent(r):
    h = r['headers']
    ts = h['x-tc-timestamp']
    date = datetime.fromtimestamp(int(ts), timezone.utc).strftime('%Y-%m-%d')
    service = r['service']
    canonical = f"POST\n/\n\ncontent-type:{h['content-type']}\nhost:{h['host']}\n\ncontent-type;host\n{hashlib.sha256(r['body'].encode()).hexdigest()}"
    scope = f'{date}/{service}/tc3_request'
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = hmac.new(('TC3' + r['secret']).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b'tc3_request', hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    want = f"TC3-HMAC-SHA256 Credential={r['keyId']}/{scope}, SignedHeaders=content-type;host, Signature={sig}"
    return h['authorization'] == want


def gateway(r):
    h = r['headers']
    want = 'sha256=' + hmac.new(r['secret'].encode(), f"{h['x-timestamp']}.{r['body']}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(h['x-signature'], want)


for line in sys.stdin:
    req = json.loads(line)
    try:
        ok = {'aliyun': aliyun, 'tencent': tencent, 'gateway': gateway}[req['kind']](req)
        print('ok' if ok else 'bad: signature differs', flush=True)
    except Exception as e:  # a missing header is a bad request, not a crash of the check
        print(f'bad: {e!r}', flush=True)
