"""Realistic filled applications from Xinxiang units, for tests and the demo.

Each one passes every form rule of the 2025 call, so a test can break exactly
one thing and expect exactly one finding.
"""
from __future__ import annotations

from ..amounts import parse_amount
from ..models import Application, BudgetItem, Participant, Person, Section, Stage
from ..wordcount import word_count


def section(text: str) -> Section:
    """A Section whose 字数 is computed, never typed by hand."""
    lines = [line.strip() for line in text.strip().split("\n")]
    text = "\n".join(line for line in lines if line)
    return Section(text=text, chars=word_count(text))


def item(seq: str, name: str, amount_text: str, basis: str) -> BudgetItem:
    """A budget line whose amount is parsed the way the reader parses it."""
    return BudgetItem(seq=seq, item=name, amount_text=amount_text, amount=parse_amount(amount_text), basis=basis)


def stages(*rows: tuple[str, str]) -> tuple[Stage, ...]:
    names = ("第一阶段", "第二阶段", "第三阶段", "第四阶段")
    return tuple(Stage(name=names[i], goal=goal, period=period) for i, (goal, period) in enumerate(rows))


def people(*rows: tuple[str, ...]) -> tuple[Participant, ...]:
    return tuple(Participant(str(i), *row) for i, row in enumerate(rows, 1))


def plan_text(team: str, people_n: int, project: str, activities: str, station: str, extra: str) -> str:
    """Section 四 in the shape the notice asks for (目标任务、思路、举措、保障)."""
    return f"""
一、目标任务。围绕科技志愿服务试点建设任务，组建{team}，队伍规模不少于{people_n}人，全部在中国科协“大美志愿”小程序完成注册，及时发布活动并记录服务时长。
二、工作思路。坚持需求导向，深入基层调研群众需求，{extra}
三、具体举措。一是实施“{project}”重点项目1个，形成可复制的服务模式；二是依托全国科技工作者日、全国科普月、文化科技卫生“三下乡”、学雷锋纪念日、国际志愿者日等节点，全年开展科技志愿服务活动不少于{activities}次；三是在{station}建设科技志愿服务站点1个，做到有场所、有队伍、有项目、有设施、有制度、有标识。
四、保障措施。成立由主要负责人任组长的试点工作领导小组，明确专人负责；建立志愿者招募、培训、激励和服务记录制度；统筹试点经费，专款专用；加强宣传，及时总结推广经验。
"""


def sample_applications() -> list[Application]:
    """Six fully filled, rule-clean applications of different pilot types."""
    return [
        Application(
            pilot_types=("县级科协试点",),
            cover_unit="新乡市红旗区科学技术协会",
            cover_leader="王建国",
            cover_contact="李晓燕 13837301256",
            cover_date="2025年6月20日",
            unit_name="新乡市红旗区科学技术协会",
            leader=Person("王建国", "主席", "hqkx_wjg@163.com", "0373-2025618"),
            contact=Person("李晓燕", "科普部部长", "hqqkx2025@163.com", "13837301256"),
            address="河南省新乡市红旗区新二街168号区政府综合楼4楼",
            participants=people(
                ("王建国", "男", "主席", "红旗区科协", "统筹试点建设", "0373-2025618"),
                ("李晓燕", "女", "科普部部长", "红旗区科协", "活动策划与组织", "13837301256"),
                ("赵明", "男", "副主任医师", "新乡市中心医院", "健康科普志愿服务", "15903731842"),
                ("孙丽娟", "女", "高级农艺师", "红旗区农业农村局", "农业技术志愿服务", "13569452317"),
            ),
            work_basis=section("""
红旗区科协近三年将科技志愿服务纳入年度工作计划，设科普部专人负责。2024年在全国科普月、全国科技工作者日期间组织“科技惠民进社区”等活动26场，服务群众1.2万人次，获评市级科普工作先进单位。
辖区内有河南科技学院等高校2所、科研院所3家、二级以上医院5家，与新乡市中心医院、区农业农村局建立了志愿服务合作关系，共建社区科普e站8个。
"""),
            plan=section(plan_text(
                "红旗区科技志愿服务队1支", 60, "科普进社区·健康伴老", 8, "渠东街道社区综合服务中心",
                "以社区老年人健康、青少年科学教育为重点，联合辖区医院和中小学开展精准服务。",
            )),
            indicators=section("""
1. 组建科技志愿服务队1支，注册志愿者不少于60人，全部在“大美志愿”小程序注册。
2. 实施重点项目1个，全年开展科技志愿服务活动不少于8次，服务群众不少于3000人次。
3. 建成科技志愿服务站点1个，达到“六有”标准。
4. 形成典型案例1篇，在市级以上媒体宣传报道不少于2次。
"""),
            schedule=stages(
                ("组建队伍，完成“大美志愿”注册，制定项目方案", "2025年7月至8月"),
                ("开展重点项目和系列活动，建设服务站点", "2025年9月至11月"),
                ("总结评估，形成典型案例，迎接验收", "2025年12月"),
            ),
            budget_items=(
                item("1", "科普宣传资料印制", "1200", "2000份×0.6元"),
                item("2", "志愿者培训", "1000", "2期×500元"),
                item("3", "站点标识制作", "800", "标识牌4块×200元"),
                item("4", "活动物料", "600", "按8次活动测算"),
            ),
            budget_total_text="3600",
            budget_total=parse_amount("3600"),
            account_name="新乡市红旗区科学技术协会",
            account_bank="中国银行新乡红旗支行",
            account_number="249071234567",
            opinion_filled=True,
            opinion_date="2025年6月20日",
        ),
        Application(
            pilot_types=("高校科协试点",),
            cover_unit="河南师范大学科学技术协会",
            cover_leader="陈志刚",
            cover_contact="刘畅 0373-3326159",
            cover_date="2025年6月19日",
            unit_name="河南师范大学科学技术协会",
            leader=Person("陈志刚", "副校长、教授", "chenzg@htu.edu.cn", "0373-3326001"),
            contact=Person("刘畅", "科协秘书长", "kx@htu.edu.cn", "18703736625"),
            address="河南省新乡市牧野区建设东路46号",
            participants=people(
                ("陈志刚", "男", "教授", "河南师范大学", "试点总体设计", "0373-3326001"),
                ("刘畅", "女", "讲师", "河南师范大学科协", "日常组织与联络", "18703736625"),
                ("周海涛", "男", "副教授", "河南师范大学物理学院", "青少年科学教育项目", "13781902245"),
                ("吴静", "女", "副教授", "河南师范大学生命科学学院", "生态科普志愿服务", "13938728861"),
                ("郑宇航", "男", "学生", "河南师范大学团委", "学生志愿者管理", "17737306618"),
            ),
            work_basis=section("""
学校科协成立于2016年，挂靠科技处，有专职人员2名。近年来依托“科普大篷车进校园”“牧野科学营”等品牌，每年组织师生志愿者开展科普活动30余场，2024年累计服务中小学生1.5万人次，获河南省科普教育基地称号。
学校现有省级以上科研平台42个，与新乡市10余所中小学、3家科技馆和博物馆签订科普合作协议。
"""),
            plan=section(plan_text(
                "河南师范大学科技志愿服务队2支", 120, "科学教育进乡村学校", 12, "新乡市科技馆",
                "发挥高校学科和人才优势，聚焦乡村学校科学教育薄弱环节，组织师生长期结对服务。",
            )),
            indicators=section("""
1. 组建科技志愿服务队2支，每支不少于60人，总计不少于120人，全部在“大美志愿”注册。
2. 实施“科学教育进乡村学校”重点项目1个，结对乡村学校10所。
3. 全年开展活动不少于12次，服务学生不少于5000人次。
4. 在新乡市科技馆建成服务站点1个，开发科普课程5门。
"""),
            schedule=stages(
                ("招募培训志愿者，确定结对学校", "2025年7月至9月"),
                ("实施重点项目，开展系列活动，建设站点", "2025年9月至12月"),
                ("总结提升，编制课程资源包", "2026年1月至3月"),
            ),
            budget_items=(
                item("1", "科普实验耗材", "1,500.00", "10所学校×150元"),
                item("2", "志愿者交通补助", "1,200.00", "40人次×30元"),
                item("3", "课程资源包印制", "800.00", "200册×4元"),
            ),
            budget_total_text="3,500.00",
            budget_total=parse_amount("3,500.00"),
            account_name="河南师范大学",
            account_bank="中国工商银行新乡牧野支行",
            account_number="1704020109024900312",
            opinion_filled=True,
            opinion_date="2025年6月19日",
        ),
        Application(
            pilot_types=("市级学会试点",),
            cover_unit="新乡市医学会",
            cover_leader="张秀兰",
            cover_contact="马俊峰 15837369902",
            cover_date="2025年6月21日",
            unit_name="新乡市医学会",
            leader=Person("张秀兰", "会长", "xxyxh@126.com", "3051126"),
            contact=Person("马俊峰", "秘书长", "majunfeng1980@qq.com", "15837369902"),
            address="河南省新乡市卫滨区健康路88号",
            participants=people(
                ("张秀兰", "女", "主任医师", "新乡市医学会", "项目总负责", "3051126"),
                ("马俊峰", "男", "秘书长", "新乡市医学会", "组织协调", "15837369902"),
                ("高永强", "男", "主任医师", "新乡医学院第一附属医院", "慢病防治科普", "13598639021"),
            ),
            work_basis=section("""
新乡市医学会下设35个专科分会，会员4200余人。学会长期组织“健康中原行·大医献爱心”义诊活动，2024年开展基层义诊和健康讲座42场，服务群众2万余人次。
全市有三级医院7家、二级医院21家，学会与各医院建立了专家志愿者库，入库专家300余人。
"""),
            plan=section(plan_text(
                "新乡市医学会科技志愿服务队1支", 80, "健康科普进乡村", 10, "卫滨区健康科普馆",
                "以慢病防治、急救技能普及为重点，组织专科分会专家深入乡村和社区。",
            )),
            indicators=section("""
1. 组建服务队1支，注册志愿者不少于80人。
2. 实施重点项目1个，全年开展义诊和健康讲座不少于10次，培训急救技能500人次。
3. 建成健康科普服务站点1个，制作科普短视频20条。
"""),
            schedule=stages(
                ("组建队伍，制定工作方案", "2025年7月"),
                ("开展义诊、讲座和急救培训", "2025年8月至11月"),
                ("总结评估", "2025年12月"),
            ),
            budget_items=(
                item("1", "急救培训模型租用", "1800元", "6次×300元"),
                item("2", "科普折页印制", "1000元", "2500份×0.4元"),
                item("3", "短视频制作", "1200元", "20条×60元"),
            ),
            budget_total_text="肆仟元整",
            budget_total=parse_amount("肆仟元整"),
            account_name="新乡市医学会",
            account_bank="中国建设银行新乡卫滨支行",
            account_number="41050167610800000318",
            opinion_filled=True,
            opinion_date="2025年6月21日",
        ),
        Application(
            pilot_types=("县级科协试点",),
            cover_unit="卫辉市科学技术协会",
            cover_leader="刘国庆",
            cover_contact="杨帆 13703805527",
            cover_date="2025年6月22日",
            unit_name="卫辉市科学技术协会",
            leader=Person("刘国庆", "主席", "whskx@163.com", "0373-4412356"),
            contact=Person("杨帆", "办公室主任", "whkx_yf@163.com", "13703805527"),
            address="河南省卫辉市比干大道与健康路交叉口行政服务中心5楼",
            participants=people(
                ("刘国庆", "男", "主席", "卫辉市科协", "统筹协调", "0373-4412356"),
                ("杨帆", "女", "办公室主任", "卫辉市科协", "日常联络", "13703805527"),
                ("韩志强", "男", "农技推广研究员", "卫辉市农业农村局", "小麦玉米种植技术服务", "13525012846"),
                ("冯晓雪", "女", "教师", "卫辉市第一中学", "青少年科技活动", "15537367710"),
                ("许文博", "男", "工程师", "卫辉市气象局", "防灾减灾科普", "18937399205"),
                ("曹红梅", "女", "主治医师", "卫辉市人民医院", "健康科普", "13839054471"),
            ),
            work_basis=section("""
卫辉市科协将科技志愿服务写入2024年、2025年工作要点，办公室专人负责。近两年在全国科技工作者日、科普日期间组织农技专家下乡服务40余次，培训农民3000余人次。
市内有省级农业科技园区1个、农业专业合作社120余家，与市农业农村局、气象局、人民医院建立了常态化合作。
"""),
            plan=section(plan_text(
                "卫辉市乡村振兴科技志愿服务队1支", 50, "农技专家进万家", 6, "唐庄镇党群服务中心",
                "围绕小麦、玉米等主导产业和防灾减灾需求，推动科技资源下沉到村。",
            )),
            indicators=section("""
1. 组建服务队1支，志愿者不少于50人，在“大美志愿”完成注册。
2. 实施“农技专家进万家”重点项目1个，覆盖行政村20个。
3. 全年开展活动不少于6次，培训农民不少于1000人次。
4. 建成站点1个。
"""),
            schedule=stages(
                ("调研需求，组建队伍", "2025年7月至8月"),
                ("开展田间技术指导和科普活动", "2025年9月至11月"),
                ("总结验收", "2025年12月"),
            ),
            budget_items=(
                item("1", "技术资料印制", "￥1,000.00", "2000份×0.5元"),
                item("2", "田间培训场地及物料", "￥1,500.00", "5次×300元"),
                item("3", "站点标识", "￥500.00", "1套"),
            ),
            budget_total_text="￥3,000.00",
            budget_total=parse_amount("￥3,000.00"),
            account_name="卫辉市科学技术协会",
            account_bank="中国农业银行卫辉市支行",
            account_number="16-630101040008899",
            opinion_filled=True,
            opinion_date="2025年6月22日",
        ),
        Application(
            pilot_types=("高校科协试点",),
            cover_unit="新乡学院科学技术协会",
            cover_leader="黄立新",
            cover_contact="郭静 0373-3683210",
            cover_date="2025年6月20日",
            unit_name="新乡学院科学技术协会",
            leader=Person("黄立新", "科协主席、教授", "huanglx@xxu.edu.cn", "0373-3683001"),
            contact=Person("郭静", "科研处科长", "xxxykx@xxu.edu.cn", "15939061128"),
            address="河南省新乡市红旗区金穗大道东段191号",
            participants=people(
                ("黄立新", "男", "教授", "新乡学院", "总体负责", "0373-3683001"),
                ("郭静", "女", "科长", "新乡学院科研处", "组织实施", "15939061128"),
                ("田野", "男", "副教授", "新乡学院计算机与信息工程学院", "数字素养志愿服务", "13462285530"),
                ("邵佳", "女", "讲师", "新乡学院化学与材料工程学院", "趣味化学实验科普", "18236157742"),
            ),
            work_basis=section("""
新乡学院科协有兼职工作人员3名，组建了“星火”大学生科普志愿者协会，注册志愿者260人。2024年开展“数字素养进社区”“趣味化学进校园”等活动22场，服务群众8000余人次。
学校与红旗区6个社区、4所中小学签订共建协议，与新乡市图书馆合作开展科普讲座。
"""),
            plan=section(plan_text(
                "新乡学院“星火”科技志愿服务队1支", 100, "数字素养助老", 10, "新乡市图书馆",
                "以提升老年人数字素养和青少年科学兴趣为重点，组织师生开展常态化服务。",
            )),
            indicators=section("""
1. 服务队1支，志愿者不少于100人。
2. 重点项目1个，全年活动不少于10次，服务群众4000人次以上。
3. 建成站点1个，编写《智能手机使用手册》1本。
"""),
            schedule=stages(
                ("队伍组建与培训", "2025年7月至9月"),
                ("项目实施与站点建设", "2025年10月至12月"),
                ("总结推广", "2026年1月"),
            ),
            budget_items=(
                item("1", "手册编印", "0.12万元", "300册×4元"),
                item("2", "志愿者培训", "1.2千元", "3期×400元"),
                item("3", "活动物料", "900", "按10次活动测算"),
            ),
            budget_total_text="3300元",
            budget_total=parse_amount("3300元"),
            account_name="新乡学院",
            account_bank="中国银行新乡分行营业部",
            account_number="2570 0012 3456 7890",
            opinion_filled=True,
            opinion_date="2025年6月20日",
        ),
        Application(
            pilot_types=("其它单位",),
            cover_unit="新乡市华兴智能科技有限公司",
            cover_leader="钱伟",
            cover_contact="宋雨婷 17839376654",
            cover_date="2025年6月23日",
            unit_name="新乡市华兴智能科技有限公司",
            leader=Person("钱伟", "总经理、高级工程师", "qianwei@hxznkj.com", "13903733318"),
            contact=Person("宋雨婷", "综合部经理", "songyt@hxznkj.com", "17839376654"),
            address="河南省新乡市高新区新二街与新东大道交叉口创新大厦12层",
            participants=people(
                ("钱伟", "男", "高级工程师", "华兴智能科技", "项目总负责", "13903733318"),
                ("宋雨婷", "女", "综合部经理", "华兴智能科技", "联络与宣传", "17839376654"),
                ("彭浩", "男", "工程师", "华兴智能科技", "机器人科普课程", "15290520093"),
            ),
            work_basis=section("""
公司是国家高新技术企业，研发人员45人，设企业科协。2023年以来组织工程师志愿者走进中小学开展机器人、人工智能科普活动18场，服务学生5000余人次，被评为新乡市科普教育基地。
公司与河南科技学院、新乡职业技术学院共建实训基地，与高新区3所中小学长期合作。
"""),
            plan=section(plan_text(
                "华兴智能工程师科技志愿服务队1支", 50, "人工智能科普进校园", 8, "公司科普展厅",
                "发挥企业工程师和设备优势，面向青少年开展人工智能和机器人科普。",
            )),
            indicators=section("""
1. 组建服务队1支，志愿者不少于50人。
2. 实施重点项目1个，开展活动8次，服务学生不少于2000人次。
3. 建成站点1个，开发科普课程3门。
"""),
            schedule=stages(
                ("组建队伍，开发课程", "2025年7月至8月"),
                ("进校园开展活动，建设展厅站点", "2025年9月至12月"),
                ("总结评估", "2026年1月"),
            ),
            budget_items=(
                item("1", "课程材料包", "1600", "8次×200元"),
                item("2", "宣传展板", "900", "6块×150元"),
            ),
            budget_total_text="2500",
            budget_total=parse_amount("2500"),
            account_name="新乡市华兴智能科技有限公司",
            account_bank="中原银行新乡高新区支行",
            account_number="411101010170012345",
            opinion_filled=True,
            opinion_date="2025年6月23日",
        ),
    ]
