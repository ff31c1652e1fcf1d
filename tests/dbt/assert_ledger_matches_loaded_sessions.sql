-- Reconciliation between the loader's ledger and the raw rows: for every file the ledger marks as
-- loaded, `sessions_loaded` equals the number of completed session lines that carry that file's path.
-- Fails with one row per offending file.
with files as (

    select file_path, sessions_loaded
    from {{ ref('stg_monetate__files') }}
    where file_status = 'loaded'
      and {{ monetate_test_scope(ref('stg_monetate__files')) }}

),

lines as (

    select source_path, count(*) as session_lines
    from {{ ref('stg_monetate__sessions') }}
    where source_path in (select file_path from files)
    group by source_path

)

select
    files.file_path,
    files.sessions_loaded,
    coalesce(lines.session_lines, 0) as session_lines_in_raw
from files
left join lines
    on files.file_path = lines.source_path
where coalesce(files.sessions_loaded, -1) <> coalesce(lines.session_lines, 0)
