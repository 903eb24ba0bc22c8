"""Parts of community (社区), village (村) and agency names, for synthetic areas below the
real street/township level. Combined as `{first}{second}社区` or `{first}{second}村`."""

from __future__ import annotations

# fmt: off

COMMUNITY_FIRST: tuple[str, ...] = (
    "丽景", "湖畔", "阳光", "凤凰", "文化", "新华", "银湖", "光明", "幸福", "和平", "康乐",
    "锦绣", "富康", "民乐", "长城", "朝阳", "春晖", "金桥", "西湖", "南门", "北塔", "东方",
    "紫园", "馨园", "华宇", "润泽", "宝湖", "海宝", "双渠", "友爱", "团结", "建设", "民族",
    "胜利", "前进", "南苑", "北苑", "育才", "燕鸽", "满春", "贺兰山", "黄河", "塞上",
    "唐徕", "艾依", "丰安", "利民", "园林", "泰和", "安居", "枫林", "清河", "鼓楼", "利群",
)
COMMUNITY_SECOND: tuple[str, ...] = (
    "", "", "", "东", "西", "南", "北", "花园", "家园", "新村", "里", "苑",
)
VILLAGE_FIRST: tuple[str, ...] = (
    "马家", "王家", "李家", "杨家", "张家", "郝家", "田家", "丁家", "金家", "高", "红",
    "新", "清水", "黄", "石", "沙", "柳", "杨", "双", "大", "小", "东", "西", "南", "北",
    "前", "后", "上", "下", "白", "青", "团结", "永丰", "五里",
)
VILLAGE_SECOND: tuple[str, ...] = (
    "庄", "湾", "滩", "堡", "沟", "渠", "台", "桥", "井", "河", "梁", "塬", "岔", "圈",
    "营", "寨", "坪", "崖",
)
# Brand words of social-work agencies (社会工作服务中心).
AGENCY_BRANDS: tuple[str, ...] = (
    "启航", "同心", "博爱", "仁爱", "馨语", "阳光", "晨曦", "和谐", "明德", "益心", "暖阳",
    "春雨", "善行", "乐龄", "安康",
)
# Village groups (村民小组) are written with Chinese numerals.
NUMERALS: tuple[str, ...] = (
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
)
# fmt: on
