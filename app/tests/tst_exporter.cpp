// SPDX-License-Identifier: GPL-3.0-or-later
// Export of panels and views (PNG/PDF/SVG) and of map numbers (NPY/CSV): formats, sizes, sidecars, overwrite policy,
// and that no temporary file survives.
#include "attnscope/maps.h"
#include "attnscope/npy.h"
#include "exporter.h"
#include "heatmappanel.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QHBoxLayout>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include "apptest.h"
#include <QXmlStreamReader>

#include <cmath>
#include <limits>

using namespace attn::app;

namespace {

constexpr int kSize = 6;
const QString kModelHash = QStringLiteral("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

/// The 6 tokens; one holds a comma and a quote so CSV escaping is exercised, one a leading space.
QStringList tokens()
{
    return {QStringLiteral("<bos>"), QStringLiteral(" the"), QStringLiteral("say \"hi\", ok"), QStringLiteral("x"),
        QStringLiteral("y"), QStringLiteral("z")};
}

/// 6x6 causal signed map (a D map): row r attends to keys 0..r, the upper triangle is masked (NaN).
attn::AttentionMap causalMap()
{
    attn::AttentionMap map;
    map.layer = 3;
    map.head = 1;
    map.kind = attn::MapKind::D;
    map.rows = kSize;
    map.cols = kSize;
    map.values.assign(kSize * kSize, std::numeric_limits<float>::quiet_NaN());
    for (int row = 0; row < kSize; ++row) {
        for (int col = 0; col <= row; ++col)
            map.values[row * kSize + col] = float(row * 10 + col + 1) / 100.0f - 0.25f; // distinct, both signs
    }
    return map;
}

PanelMap panelMap()
{
    const attn::AttentionMap map = causalMap();
    PanelMap panel;
    panel.title = QStringLiteral("D = A1 − λ·A2");
    panel.kind = QStringLiteral("D");
    panel.rows = kSize;
    panel.cols = kSize;
    panel.values = map.values;
    panel.isSigned = true;
    panel.tokens = tokens();
    return panel;
}

Provenance provenance()
{
    Provenance p;
    p.modelPath = "/models/tiny diff & co (v2)/config.json";
    p.weightsSha256 = kModelHash.toStdString();
    p.prompt = "say \"hi\", ok";
    for (int i = 0; i < kSize; ++i)
        p.tokens.push_back(100 + i);
    for (const QString& token : tokens())
        p.tokenDisplay.push_back(token.toStdString());
    p.layer = 3;
    p.head = 1;
    p.kind = "D";
    p.lambda = 0.8;
    p.colorLow = -0.3;
    p.colorHigh = 0.3;
    p.device = "cpu";
    p.dtype = "float32";
    return p;
}

QByteArray readAll(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

QJsonObject readSidecar(const QString& path)
{
    return QJsonDocument::fromJson(readAll(path + QStringLiteral(".json"))).object();
}

/// Every entry in the directory, hidden ones included (QTemporaryFile/QSaveFile siblings would show up here).
QStringList entries(const QString& dir)
{
    QStringList names = QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
    return names;
}

/// Name of the first <svg> element and the text of its <title>, or an XML error.
std::pair<QString, QString> svgRootAndTitle(const QByteArray& svg, QString* error)
{
    QXmlStreamReader xml(svg);
    QString root;
    QString title;
    while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement)
            continue;
        if (root.isEmpty())
            root = xml.name().toString();
        if (xml.name() == QLatin1String("title") && title.isEmpty())
            title = xml.readElementText();
    }
    if (xml.hasError())
        *error = xml.errorString();
    return {root, title};
}

/// Mean absolute difference per channel (0..255) of two same-sized images.
double meanDifference(const QImage& a, const QImage& b)
{
    if (a.size() != b.size())
        return 255.0;
    const QImage x = a.convertToFormat(QImage::Format_RGB32);
    const QImage y = b.convertToFormat(QImage::Format_RGB32);
    double sum = 0.0;
    for (int row = 0; row < x.height(); ++row) {
        for (int col = 0; col < x.width(); ++col) {
            const QRgb p = x.pixel(col, row);
            const QRgb q = y.pixel(col, row);
            sum += std::abs(qRed(p) - qRed(q)) + std::abs(qGreen(p) - qGreen(q)) + std::abs(qBlue(p) - qBlue(q));
        }
    }
    return sum / (3.0 * x.width() * x.height());
}

} // namespace

class TestExporter : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        // Keep the files for a look with an image viewer: ATTNSCOPE_KEEP_EXPORTS=1 ctest -R tst_exporter -V
        if (qEnvironmentVariableIsSet("ATTNSCOPE_KEEP_EXPORTS")) {
            m_dir->setAutoRemove(false);
            qInfo() << "exports kept in" << m_dir->path();
        }
        m_panel = std::make_unique<HeatmapPanel>();
        m_panel->setMap(panelMap());
    }

    void cleanup()
    {
        m_panel.reset();
        m_dir.reset();
    }

    void formatForPath()
    {
        QCOMPARE(imageFormatForPath(QStringLiteral("a/b.PNG")), ImageFormat::Png);
        QCOMPARE(imageFormatForPath(QStringLiteral("b.pdf")), ImageFormat::Pdf);
        QCOMPARE(imageFormatForPath(QStringLiteral("b.Svg")), ImageFormat::Svg);
        QVERIFY(!imageFormatForPath(QStringLiteral("b.jpg")));
        QVERIFY(!imageFormatForPath(QStringLiteral("png")));
    }

    void panelPngAtDoubleDpi()
    {
        const QString path = m_dir->filePath(QStringLiteral("panel.png"));
        const ExportResult result = exportPanelImage(m_panel.get(), path, {400, 300, 192.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(result.written, QStringList({path, path + QStringLiteral(".json")}));
        QImage image(path);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), QSize(800, 600));
        QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), 192);

        const QJsonObject json = readSidecar(path);
        QCOMPARE(json.value(QStringLiteral("layer")).toInt(), 3);
        QCOMPARE(json.value(QStringLiteral("head")).toInt(), 1);
        QCOMPARE(json.value(QStringLiteral("kind")).toString(), QStringLiteral("D"));
        QCOMPARE(json.value(QStringLiteral("lambda")).toDouble(), 0.8);
        QCOMPARE(json.value(QStringLiteral("model")).toObject().value(QStringLiteral("sha256")).toString(), kModelHash);
        QCOMPARE(json.value(QStringLiteral("color_range")).toArray(), QJsonArray({-0.3, 0.3}));
        QCOMPARE(json.value(QStringLiteral("tokens")).toArray().size(), kSize);
        QVERIFY(json.value(QStringLiteral("created")).toString().endsWith(QLatin1Char('Z')));
        QVERIFY2(json.value(QStringLiteral("front_end")).toString().contains(QString::fromLatin1(qVersion())),
            qPrintable(json.value(QStringLiteral("front_end")).toString()));
        QVERIFY(json.contains(QStringLiteral("attnscope_version")));
        QCOMPARE(entries(m_dir->path()), QStringList({QStringLiteral("panel.png"), QStringLiteral("panel.png.json")}));
    }

    void panelPdfAndSvg()
    {
        const QString pdf = m_dir->filePath(QStringLiteral("panel.pdf"));
        ExportResult result = exportPanelImage(m_panel.get(), pdf, {400, 300, 96.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QVERIFY(readAll(pdf).startsWith("%PDF"));
        QCOMPARE(readSidecar(pdf).value(QStringLiteral("kind")).toString(), QStringLiteral("D"));

        const QString svg = m_dir->filePath(QStringLiteral("panel.svg"));
        result = exportPanelImage(m_panel.get(), svg, {400, 300, 96.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        const QByteArray bytes = readAll(svg);
        QString error;
        const auto [root, title] = svgRootAndTitle(bytes, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(root, QStringLiteral("svg"));
        QCOMPARE(title, QStringLiteral("attnscope · tiny diff ＆ co (v2) · layer 3 · head 1 · D"));
        // The provenance JSON sits in <desc> and still parses to the same tokens ("<bos>" included).
        QXmlStreamReader xml(bytes);
        while (!xml.atEnd()
            && !(xml.readNext() == QXmlStreamReader::StartElement && xml.name() == QLatin1String("desc"))) { }
        const QJsonObject desc = QJsonDocument::fromJson(xml.readElementText().toUtf8()).object();
        QCOMPARE(desc.value(QStringLiteral("model")).toObject().value(QStringLiteral("sha256")).toString(), kModelHash);
        QCOMPARE(desc.value(QStringLiteral("display")).toArray().first().toString(), QStringLiteral("<bos>"));
        QCOMPARE(entries(m_dir->path()),
            QStringList({QStringLiteral("panel.pdf"), QStringLiteral("panel.pdf.json"), QStringLiteral("panel.svg"),
                QStringLiteral("panel.svg.json")}));
    }

    void refusesToOverwrite()
    {
        const QString path = m_dir->filePath(QStringLiteral("taken.png"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("not a png");
        }
        ExportResult result = exportPanelImage(m_panel.get(), path, {200, 150, 96.0}, provenance(), false);
        QVERIFY(!result.ok);
        QVERIFY2(result.message.contains(QStringLiteral("taken.png")), qPrintable(result.message));
        QVERIFY(result.written.isEmpty());
        QCOMPARE(readAll(path), QByteArray("not a png"));
        QCOMPARE(entries(m_dir->path()), QStringList({QStringLiteral("taken.png")})); // no sidecar, no temporary

        // An existing sidecar alone also blocks, and so does it for data exports.
        const QString data = m_dir->filePath(QStringLiteral("map.csv"));
        QFile sidecar(data + QStringLiteral(".json"));
        QVERIFY(sidecar.open(QIODevice::WriteOnly));
        sidecar.close();
        result = exportMapData(causalMap(), data, provenance(), false);
        QVERIFY(!result.ok);
        QVERIFY2(result.message.contains(QStringLiteral("map.csv.json")), qPrintable(result.message));
        QVERIFY(!QFile::exists(data));

        result = exportPanelImage(m_panel.get(), path, {200, 150, 96.0}, provenance(), /*overwrite=*/true);
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(QImage(path).size(), QSize(200, 150));
    }

    void unwritableDirectoryFails()
    {
        const QString path = m_dir->filePath(QStringLiteral("missing/panel.png"));
        ExportResult result = exportPanelImage(m_panel.get(), path, {200, 150, 96.0}, provenance(), false);
        QVERIFY(!result.ok);
        QVERIFY(!result.message.isEmpty());
        result = exportMapData(causalMap(), m_dir->filePath(QStringLiteral("missing/m.csv")), {}, false);
        QVERIFY(!result.ok);
        result = exportPanelImage(m_panel.get(), m_dir->filePath(QStringLiteral("p.jpg")), {}, provenance(), false);
        QVERIFY(!result.ok);
        QCOMPARE(entries(m_dir->path()), QStringList());
    }

    void npyRoundTrip()
    {
        const QString path = m_dir->filePath(QStringLiteral("map.npy"));
        const attn::AttentionMap map = causalMap();
        const ExportResult result = exportMapData(map, path, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        const auto array = attn::readNpyFloat32(QFile::encodeName(path).toStdString());
        QVERIFY2(array.isOk(), array.message().c_str());
        QCOMPARE(array->shape, std::vector<int64_t>({kSize, kSize}));
        for (int i = 0; i < kSize * kSize; ++i) {
            const int row = i / kSize;
            const int col = i % kSize;
            QCOMPARE(std::isnan(array->values[i]), col > row);
            if (col <= row)
                QCOMPARE(array->values[i], map.values[i]);
        }
        const QJsonObject json = readSidecar(path);
        QCOMPARE(json.value(QStringLiteral("shape")).toArray(), QJsonArray({kSize, kSize}));
        QCOMPARE(json.value(QStringLiteral("layer")).toInt(), 3);
        QCOMPARE(entries(m_dir->path()), QStringList({QStringLiteral("map.npy"), QStringLiteral("map.npy.json")}));
    }

    void csvEscapingAndMask()
    {
        const QString path = m_dir->filePath(QStringLiteral("map.csv"));
        const attn::AttentionMap map = causalMap();
        const ExportResult result = exportMapData(map, path, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        const QString text = QString::fromUtf8(readAll(path));
        const QStringList lines = text.split(QStringLiteral("\r\n"));
        QCOMPARE(lines.size(), kSize + 2); // header, 6 rows, and the empty piece after the final line break
        QCOMPARE(lines.at(0), QStringLiteral("query\\key,<bos>,\" the\",\"say \"\"hi\"\", ok\",x,y,z"));
        QCOMPARE(lines.at(1), QStringLiteral("<bos>,%1,,,,,").arg(QString::number(map.values[0], 'g', 9)));
        QVERIFY(lines.at(3).startsWith(QStringLiteral("\"say \"\"hi\"\", ok\",")));
        QVERIFY(lines.at(3).endsWith(QStringLiteral(",,,")));
        const QStringList last = lines.at(kSize).split(QLatin1Char(','));
        QCOMPARE(last.size(), kSize + 1);
        QCOMPARE(last.at(kSize).toFloat(), map.values[kSize * kSize - 1]);
        QVERIFY(lines.last().isEmpty());
        QCOMPARE(entries(m_dir->path()), QStringList({QStringLiteral("map.csv"), QStringLiteral("map.csv.json")}));
    }

    void csvOfAWindowIsLabelledWithItsTokensAndTheSidecarWithItsCells()
    {
        // Queries 3..5 x keys 1..3 of the 6-token prompt: the labels are those tokens, not tokens 0..2.
        attn::AttentionMap window = causalMap();
        window.rows = 3;
        window.cols = 3;
        window.rowBegin = 3;
        window.colBegin = 1;
        window.values.resize(9);
        const QString path = m_dir->filePath(QStringLiteral("window.csv"));
        const ExportResult result = exportMapData(window, path, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        const QStringList lines = QString::fromUtf8(readAll(path)).split(QStringLiteral("\r\n"));
        QCOMPARE(lines.at(0), QStringLiteral("query\\key,\" the\",\"say \"\"hi\"\", ok\",x"));
        QVERIFY(lines.at(1).startsWith(tokens().at(3) + QLatin1Char(',')));
        QVERIFY(lines.at(3).startsWith(tokens().at(5) + QLatin1Char(',')));
        const QJsonObject json = readSidecar(path);
        QCOMPARE(json.value(QStringLiteral("region")).toString(), QStringLiteral("window 3:6,1:4"));
        QCOMPARE(json.value(QStringLiteral("first_query")).toInt(), 3);
        QCOMPARE(json.value(QStringLiteral("first_key")).toInt(), 1);
    }

    void suggestedNames()
    {
        Provenance p = provenance();
        QCOMPARE(suggestedFileName(p, QStringLiteral("png")), QStringLiteral("tiny_diff_co_v2_L3_H1_D.png"));
        QCOMPARE(suggestedFileName(p, QStringLiteral(".npy")), QStringLiteral("tiny_diff_co_v2_L3_H1_D.npy"));
        p.modelPath = "/data/../models/.hidden-model/";
        p.kind = "λ·A2";
        QCOMPARE(suggestedFileName(p, QStringLiteral("svg")), QStringLiteral("hidden-model_L3_H1_A2.svg"));
        p = Provenance();
        QCOMPARE(suggestedFileName(p, QStringLiteral("csv")), QStringLiteral("attnscope.csv"));
        p.modelPath = "C:/models/ok.model/model.safetensors";
        p.layer = 0;
        p.head = 2;
        p.kind = "A/../x";
        QCOMPARE(suggestedFileName(p, QStringLiteral("pdf")), QStringLiteral("ok.model_L0_H2_A_.._x.pdf"));
    }

    void wholeView()
    {
        QWidget view;
        auto* layout = new QHBoxLayout(&view);
        for (int i = 0; i < 2; ++i) {
            auto* panel = new HeatmapPanel;
            panel->setMap(panelMap());
            layout->addWidget(panel);
        }
        view.resize(600, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));

        const QString png = m_dir->filePath(QStringLiteral("view.png"));
        ExportResult result = exportWidgetImage(&view, png, {0, 0, 192.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        const QImage image(png);
        QCOMPARE(image.size(), QSize(1200, 600));
        QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), 192);
        // Both heatmaps were drawn: the centre of each half is not plain background.
        const QRgb background = image.pixel(1, 1);
        int differing = 0;
        for (int x = 0; x < image.width(); x += 7)
            differing += image.pixel(x, image.height() / 2) != background;
        QVERIFY(differing > 20);
        // Twice the dpi is the same picture at twice the pixels: text must not grow relative to the layout.
        const QString png96 = m_dir->filePath(QStringLiteral("view96.png"));
        result = exportWidgetImage(&view, png96, {0, 0, 96.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QVERIFY2(meanDifference(image.scaled(600, 300, Qt::IgnoreAspectRatio, Qt::SmoothTransformation), QImage(png96))
                < 6.0,
            "the 192 dpi export differs from the 96 dpi one beyond resampling");

        // A view never shown (batch export) is laid out on the way and renders the same.
        QWidget hidden;
        auto* hiddenLayout = new QHBoxLayout(&hidden);
        for (int i = 0; i < 2; ++i) {
            auto* panel = new HeatmapPanel;
            panel->setMap(panelMap());
            hiddenLayout->addWidget(panel);
        }
        hidden.resize(600, 300);
        const QString hiddenPng = m_dir->filePath(QStringLiteral("hidden.png"));
        result = exportWidgetImage(&hidden, hiddenPng, {}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QVERIFY(meanDifference(QImage(hiddenPng), QImage(png96)) < 1.0);

        const QString pdf = m_dir->filePath(QStringLiteral("view.pdf"));
        result = exportWidgetImage(&view, pdf, {}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QVERIFY(readAll(pdf).startsWith("%PDF"));

        const QString svg = m_dir->filePath(QStringLiteral("view.svg"));
        result = exportWidgetImage(&view, svg, {800, 400, 96.0}, provenance(), false);
        QVERIFY2(result.ok, qPrintable(result.message));
        QString error;
        QCOMPARE(svgRootAndTitle(readAll(svg), &error).first, QStringLiteral("svg"));
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(entries(m_dir->path()).size(), 10); // five pictures, five sidecars, nothing else
    }

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<HeatmapPanel> m_panel;
};

ATTNSCOPE_APP_TEST_MAIN(TestExporter)

#include "tst_exporter.moc"
