"""Import stations (爱心驿站 / 能量栈) from a CSV file.

    .venv/bin/python -m scripts.import_stations FILE.csv [--dry-run]

Columns (English or Chinese headers): code/编号 (optional), name/名称, kind/类型
(党群服务中心 | 能量栈), address/地址, latitude/纬度, longitude/经度, amenities/设施
(充电、饮水、歇脚、厕所、热饭、应急药品、雨衣), hours/开放时间 ("周一至周五 09:00-18:00；
周六 09:00-12:00", "24小时"), phone/电话, community/社区 (id or name), note/备注.
See storage/data/stations_demo.csv. Valid rows are upserted (by code, else community +
name); each bad row is reported with its row number. Exit status 1 when any row failed.
Uses MONGODB_URI / MONGODB_DB like the app.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm  # noqa: E402

from bot.config import Settings  # noqa: E402
from services.station_import import (  # noqa: E402
    ImportResult, community_ids, import_rows, numbered, read_csv,
)
from storage import mongo  # noqa: E402
from storage.stations import StationRepository  # noqa: E402


async def run(path: Path, settings: Settings, *, dry_run: bool = False) -> ImportResult:
    rows = read_csv(path.read_bytes())
    client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    try:
        repo = StationRepository(db)
        await repo.ensure_indexes()
        communities = await community_ids(db)
        total = sum(1 for _ in numbered(rows))
        with tqdm(total=total, unit="行", desc="导入驿站", file=sys.stderr) as bar:
            result = await import_rows(repo, rows, communities, dry_run=dry_run, progress=bar.update)
    finally:
        client.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="导入驿站 CSV（Import stations from CSV）")
    parser.add_argument("file", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"找不到文件：{args.file}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(run(args.file, Settings.from_env(), dry_run=args.dry_run))
    except ValueError as exc:  # unusable file (header, encoding)
        print(f"无法导入：{exc}", file=sys.stderr)
        return 2
    for error in result.errors:
        print(f"第 {error.row} 行：{error.message}", file=sys.stderr)
    verb = "可导入" if args.dry_run else "已导入"
    print(f"{verb} {result.imported} 个站点（新增 {result.created}，更新 {result.updated}），出错 {len(result.errors)} 行")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
