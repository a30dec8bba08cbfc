"""Everything syncbot says to a person, in Vietnamese first and English second.

A translator or a reviewer looks here, one module per kind of wording, instead of in the
code that decides what to say:

- `pair`: how a (Vietnamese, English) pair is written and which side the language setting picks;
- `titles`: what each kind of plan step and finding is called (plan sections, report headings);
- `reasons`: why a step is taken or a finding raised, with its values, as plans and the audit
  log record it;
- `report`: every report's words and table headings, the shared ones first;
- `roster`: each problem an HR roster file can have, for the clerk who fixes it;
- `cli`: the command line's lines around a plan, an apply and a quarantine;
- `audit`: the labels of `syncbot audit show`;
- `worker`: the worker's status lines and its answers to an HR push;
- `notify`: the e-mails and webhook messages that tell operators of a refused, failed or
  broken run, and that it cleared.

Plain modules of constants and small functions rather than gettext catalogues: two languages
that ship together, reviewed in code, need no build step and keep `syncbot --help` light.
Importing this package imports nothing else.
"""
